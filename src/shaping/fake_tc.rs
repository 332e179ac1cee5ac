//! A test-only model of the kernel's tc state and of what iproute2 6.1 prints about it.
//!
//! This module owns the fixture printers used by the plan → apply → read-back tests: it runs
//! the `ip` argv and `tc -batch` lines that `plan` emits against an in-memory host, keeping
//! values the way the kernel does (netem times in 64 ns ticks, percentages as fractions of
//! 2^32, rates in bytes per second), and prints `tc -s -j qdisc show`, `tc class show` and
//! `tc -j filter show` the way iproute2 6.1's source does. Its formats come from reading that
//! source, not from a kernel with netem. It must never be compiled outside tests.

use std::collections::BTreeMap;

use crate::shaping::units::{parse_percent, parse_rate_kbit, parse_time_ms};

/// psched ticks per microsecond on kernels since 2.6.x (PSCHED_SHIFT 6: one tick = 64 ns).
const TICKS_PER_US: f64 = 15.625;

#[derive(Clone, Debug, Default)]
pub(crate) struct Netem {
    limit: u32,
    latency_ticks: u32,
    jitter_ticks: u32,
    delay_corr: u32,
    loss: u32,
    duplicate: u32,
    corrupt: u32,
    reorder: u32,
    gap: u32,
}

#[derive(Clone, Debug)]
enum Options {
    Htb,
    Netem(Netem),
    /// Raw JSON text of the `options` object, for foreign qdiscs.
    Raw(String),
}

#[derive(Clone, Debug)]
struct Qdisc {
    kind: String,
    handle: String,
    /// None = root; Some("ffff:fff1") = ingress; else the parent class.
    parent: Option<String>,
    options: Options,
}

#[derive(Clone, Debug, Default)]
struct Device {
    qdiscs: Vec<Qdisc>,
    /// (classid, rate in bytes/s, burst in bytes).
    class: Option<(String, u64, u64)>,
    redirect_to: Option<String>,
}

/// An in-memory host: devices by name, each with its qdiscs, class and ingress filter.
#[derive(Clone, Debug, Default)]
pub(crate) struct FakeHost {
    devices: BTreeMap<String, Device>,
    /// True models a kernel without sch_netem (K10).
    pub(crate) netem_missing: bool,
}

impl FakeHost {
    /// A host with one veth.
    pub(crate) fn with_veth(name: &str) -> FakeHost {
        let mut host = FakeHost::default();
        host.devices.insert(name.to_owned(), Device::default());
        host
    }

    pub(crate) fn has_device(&self, name: &str) -> bool {
        self.devices.contains_key(name)
    }

    /// Puts a root qdisc there by hand (K1), as `tc qdisc add dev D root handle H KIND ...`.
    pub(crate) fn put_foreign_root(&mut self, dev: &str, kind: &str, handle: &str, options: &str) {
        let d = self.devices.entry(dev.to_owned()).or_default();
        d.qdiscs.retain(|q| q.parent.is_some());
        d.qdiscs.push(Qdisc {
            kind: kind.to_owned(),
            handle: handle.to_owned(),
            parent: None,
            options: Options::Raw(options.to_owned()),
        });
    }

    /// Runs one `ip` argv.
    pub(crate) fn run_ip(&mut self, argv: &[String]) -> Result<(), String> {
        let words: Vec<&str> = argv.iter().map(String::as_str).collect();
        match words.as_slice() {
            ["link", "add", name, "type", "ifb"] => {
                if self.devices.contains_key(*name) {
                    return Err("RTNETLINK answers: File exists".into());
                }
                self.devices.insert((*name).to_owned(), Device::default());
                Ok(())
            }
            ["link", "set", name, "up"] => self.device(name).map(|_| ()),
            ["link", "del", name] => self
                .devices
                .remove(*name)
                .map(|_| ())
                .ok_or_else(|| no_device(name)),
            _ => Err(format!("fake ip does not know {words:?}")),
        }
    }

    /// Runs lines like `tc -batch -`: stops at the first failing line, keeping earlier ones.
    pub(crate) fn run_batch(&mut self, lines: &[String]) -> Result<(), String> {
        for (n, line) in lines.iter().enumerate() {
            self.run_tc(line)
                .map_err(|e| format!("line {}: {e}", n + 1))?;
        }
        Ok(())
    }

    fn device(&mut self, name: &str) -> Result<&mut Device, String> {
        self.devices.get_mut(name).ok_or_else(|| no_device(name))
    }

    fn run_tc(&mut self, line: &str) -> Result<(), String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let netem_missing = self.netem_missing;
        let targets_exist: Vec<String> = self.devices.keys().cloned().collect();
        match words.as_slice() {
            ["qdisc", "add", "dev", dev, "ingress"] => {
                let d = self.device(dev)?;
                if d.qdiscs
                    .iter()
                    .any(|q| q.parent.as_deref() == Some("ffff:fff1"))
                {
                    return Err("RTNETLINK answers: File exists".into());
                }
                d.qdiscs.push(qdisc(
                    "ingress",
                    "ffff:",
                    Some("ffff:fff1"),
                    Options::Raw("{}".into()),
                ));
                Ok(())
            }
            ["qdisc", "del", "dev", dev, "ingress"] => {
                let d = self.device(dev)?;
                let before = d.qdiscs.len();
                d.qdiscs
                    .retain(|q| q.parent.as_deref() != Some("ffff:fff1"));
                d.redirect_to = None;
                if d.qdiscs.len() == before {
                    return Err("Error: Cannot find specified qdisc on specified device.".into());
                }
                Ok(())
            }
            ["qdisc", "del", "dev", dev, "root"] => {
                let d = self.device(dev)?;
                if !d.qdiscs.iter().any(|q| q.parent.is_none()) {
                    return Err("Error: Cannot delete qdisc with handle of zero.".into());
                }
                d.qdiscs
                    .retain(|q| q.parent.as_deref() == Some("ffff:fff1"));
                d.class = None;
                Ok(())
            }
            [
                "qdisc",
                "add",
                "dev",
                dev,
                "root",
                "handle",
                handle,
                kind,
                args @ ..,
            ] => {
                let options = qdisc_options(kind, args, netem_missing)?;
                let d = self.device(dev)?;
                if d.qdiscs.iter().any(|q| q.parent.is_none()) {
                    return Err("RTNETLINK answers: File exists".into());
                }
                d.qdiscs.push(qdisc(kind, handle, None, options));
                Ok(())
            }
            [
                "qdisc",
                "add",
                "dev",
                dev,
                "parent",
                parent,
                "handle",
                handle,
                kind,
                args @ ..,
            ] => {
                let options = qdisc_options(kind, args, netem_missing)?;
                let d = self.device(dev)?;
                if d.class.as_ref().map(|c| c.0.as_str()) != Some(*parent) {
                    return Err("Error: Failed to find specified qdisc.".into());
                }
                d.qdiscs.push(qdisc(kind, handle, Some(parent), options));
                Ok(())
            }
            [
                "class",
                "add",
                "dev",
                dev,
                "parent",
                "7173:",
                "classid",
                id,
                "htb",
                "rate",
                rate,
                "ceil",
                _,
                "burst",
                burst,
                "cburst",
                _,
            ] => {
                let rate_kbit = parse_rate_kbit(rate).map_err(|e| e.to_string())?;
                let burst: u64 = burst.parse().map_err(|_| "bad burst".to_string())?;
                let d = self.device(dev)?;
                if !d
                    .qdiscs
                    .iter()
                    .any(|q| q.parent.is_none() && q.handle == "7173:")
                {
                    return Err("Error: Failed to find qdisc with specified handle.".into());
                }
                d.class = Some(((*id).to_owned(), rate_kbit * 125, burst));
                Ok(())
            }
            [
                "filter",
                "add",
                "dev",
                dev,
                "parent",
                "ffff:",
                "protocol",
                "all",
                "prio",
                "1",
                "u32",
                "match",
                "u32",
                "0",
                "0",
                "action",
                "mirred",
                "egress",
                "redirect",
                "dev",
                target,
            ] => {
                if !targets_exist.iter().any(|t| t == target) {
                    return Err(no_device(target));
                }
                let d = self.device(dev)?;
                if !d.qdiscs.iter().any(|q| q.kind == "ingress") {
                    return Err("Error: Parent Qdisc doesn't exists.".into());
                }
                d.redirect_to = Some((*target).to_owned());
                Ok(())
            }
            _ => Err(format!("fake tc does not know \"{line}\"")),
        }
    }
}

fn qdisc(kind: &str, handle: &str, parent: Option<&str>, options: Options) -> Qdisc {
    Qdisc {
        kind: kind.to_owned(),
        handle: handle.to_owned(),
        parent: parent.map(str::to_owned),
        options,
    }
}

fn no_device(name: &str) -> String {
    format!("Cannot find device \"{name}\"")
}

fn qdisc_options(kind: &str, args: &[&str], netem_missing: bool) -> Result<Options, String> {
    match kind {
        "htb" if args == ["default", "1"] => Ok(Options::Htb),
        "netem" if netem_missing => Err("Error: Specified qdisc kind is unknown.".into()),
        "netem" => parse_netem(args).map(Options::Netem),
        _ => Err(format!("fake tc does not know qdisc {kind} {args:?}")),
    }
}

/// Reads netem's arguments the way tc 6.1's `netem_parse_opt` does.
fn parse_netem(args: &[&str]) -> Result<Netem, String> {
    let ticks = |word: &str| -> Result<u32, String> {
        let us = (parse_time_ms(word).map_err(|e| e.to_string())? * 1000.0) as u32;
        Ok((f64::from(us) * TICKS_PER_US) as u32)
    };
    let fraction = |word: &str| -> Result<u32, String> {
        let pct = parse_percent(word).map_err(|e| e.to_string())?;
        Ok((pct / 100.0 * f64::from(u32::MAX)).round() as u32)
    };
    let is_number = |w: Option<&&str>| {
        w.is_some_and(|w| w.starts_with(|c: char| c.is_ascii_digit() || c == '-'))
    };

    let mut n = Netem {
        limit: 1000,
        ..Default::default()
    };
    let mut words = args.iter().copied().peekable();
    while let Some(word) = words.next() {
        let mut value = || words.next().ok_or_else(|| format!("{word} needs a value"));
        match word {
            "limit" => n.limit = value()?.parse().map_err(|_| "bad limit".to_string())?,
            "delay" => {
                n.latency_ticks = ticks(value()?)?;
                if is_number(words.peek()) {
                    n.jitter_ticks = ticks(words.next().unwrap_or_default())?;
                    if is_number(words.peek()) {
                        n.delay_corr = fraction(words.next().unwrap_or_default())?;
                    }
                }
            }
            "loss" => n.loss = fraction(value()?)?,
            "duplicate" => n.duplicate = fraction(value()?)?,
            "corrupt" => n.corrupt = fraction(value()?)?,
            "reorder" => n.reorder = fraction(value()?)?,
            other => return Err(format!("What is \"{other}\"?")),
        }
    }
    if n.reorder > 0 {
        if n.latency_ticks == 0 {
            return Err("reordering not possible without specifying some delay".into());
        }
        n.gap = 1;
    }
    Ok(n)
}

mod print;
