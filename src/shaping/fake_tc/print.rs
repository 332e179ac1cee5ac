//! The printers of the fake host: what iproute2 6.1 prints for the modelled state.
//!
//! This module owns the text formats (`tc -s -j qdisc show`, `tc class show`,
//! `tc -j filter show`, C's `%g`, tc's rate text), written from reading iproute2 6.1's source.
//! It must not change the fake host's state.

use std::fmt::Write as _;

use super::{FakeHost, Netem, Options, TICKS_PER_US};

impl FakeHost {
    /// What `tc -s -j qdisc show dev DEV` prints.
    pub(crate) fn qdisc_json(&self, dev: &str) -> String {
        let stats =
            r#""bytes":0,"packets":0,"drops":0,"overlimits":0,"requeues":0,"backlog":0,"qlen":0"#;
        let mut entries = Vec::new();
        let qdiscs = self
            .devices
            .get(dev)
            .map(|d| d.qdiscs.as_slice())
            .unwrap_or_default();
        if !qdiscs.iter().any(|q| q.parent.is_none()) {
            entries.push(format!(
                r#"{{"kind":"noqueue","handle":"0:","root":true,"refcnt":2,"options":{{}},{stats}}}"#
            ));
        }
        for q in qdiscs {
            let place = match &q.parent {
                None => r#""root":true,"refcnt":2"#.to_owned(),
                Some(parent) => format!(r#""parent":"{parent}""#),
            };
            let options = match &q.options {
                Options::Htb => {
                    r#"{"r2q":10,"default":"0x1","direct_packets_stat":0,"direct_qlen":1000}"#
                        .to_owned()
                }
                Options::Netem(n) => netem_json(n),
                Options::Raw(raw) => raw.clone(),
            };
            entries.push(format!(
                r#"{{"kind":"{}","handle":"{}",{place},"options":{options},{stats}}}"#,
                q.kind, q.handle
            ));
        }
        format!("[{}]", entries.join(","))
    }

    /// What `tc class show dev DEV` prints.
    pub(crate) fn class_text(&self, dev: &str) -> String {
        let Some(d) = self.devices.get(dev) else {
            return String::new();
        };
        let Some((id, rate_bytes, burst)) = &d.class else {
            return String::new();
        };
        let leaf = d
            .qdiscs
            .iter()
            .find(|q| q.parent.as_deref() == Some(id.as_str()))
            .map(|q| format!("leaf {} ", q.handle))
            .unwrap_or_default();
        let rate = tc_rate_text(*rate_bytes);
        format!(
            "class htb {id} root {leaf}prio 0 rate {rate} ceil {rate} burst {burst}b cburst {burst}b \n"
        )
    }

    /// What `tc -j filter show dev DEV parent ffff:` prints.
    pub(crate) fn filter_json(&self, dev: &str) -> String {
        let Some(to) = self.devices.get(dev).and_then(|d| d.redirect_to.as_deref()) else {
            return "[]".to_owned();
        };
        format!(
            r#"[{{"protocol":"all","pref":1,"kind":"u32","chain":0}},{{"protocol":"all","pref":1,"kind":"u32","chain":0,"options":{{"fh":"800:","ht_divisor":1}}}},{{"protocol":"all","pref":1,"kind":"u32","chain":0,"options":{{"fh":"800::800","order":2048,"key_ht":"800","bkt":"0","terminal":true,"match":{{"value":"0","mask":"0","offmask":"","off":0}},"actions":[{{"order":1,"kind":"mirred","mirred_action":"redirect","direction":"egress","to_dev":"{to}","control_action":{{"type":"stolen"}},"index":1,"ref":1,"bind":1}}]}}}}]"#
        )
    }
}

/// netem's options as `tc -j` prints them (q_netem.c `netem_print_opt`).
fn netem_json(n: &Netem) -> String {
    let seconds = |ticks: u32| g6(f64::from((f64::from(ticks) / TICKS_PER_US) as u32) / 1e6);
    let frac = |v: u32| g6(f64::from(v) / f64::from(u32::MAX));
    let mut out = format!(r#"{{"limit":{}"#, n.limit);
    if n.latency_ticks > 0 {
        let _ = write!(
            out,
            r#","delay":{{"delay":{},"jitter":{},"correlation":{}}}"#,
            seconds(n.latency_ticks),
            seconds(n.jitter_ticks),
            frac(n.delay_corr)
        );
    }
    for (key, value) in [("loss-random", n.loss), ("duplicate", n.duplicate)] {
        if value > 0 {
            let inner = if key == "loss-random" { "loss" } else { key };
            let _ = write!(
                out,
                r#","{key}":{{"{inner}":{},"correlation":0}}"#,
                frac(value)
            );
        }
    }
    for (key, value) in [("reorder", n.reorder), ("corrupt", n.corrupt)] {
        if value > 0 {
            let _ = write!(
                out,
                r#","{key}":{{"{key}":{},"correlation":0}}"#,
                frac(value)
            );
        }
    }
    let _ = write!(out, r#","ecn":false,"gap":{}}}"#, n.gap);
    out
}

/// C's `%g` (six significant digits), as iproute2's JSON writer prints floats.
pub(crate) fn g6(x: f64) -> String {
    if x == 0.0 {
        return "0".to_owned();
    }
    let sci = format!("{x:.5e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s.to_owned()
        }
    };
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        trim(&format!("{x:.prec$}", prec = (5 - exp) as usize))
    }
}

/// A rate as tc 6.1 prints it in text (json_print.c `print_color_rate`, SI units).
pub(crate) fn tc_rate_text(bytes_per_sec: u64) -> String {
    let mut rate = bytes_per_sec * 8;
    let units = ["", "K", "M", "G", "T"];
    let mut i = 0;
    while i < units.len() - 1 {
        if rate < 1000 || (!rate.is_multiple_of(1000) && rate < 1_000_000) {
            break;
        }
        rate /= 1000;
        i += 1;
    }
    format!("{rate}{}bit", units.get(i).unwrap_or(&""))
}

#[test]
fn g6_matches_c_printf_g() {
    assert_eq!(g6(0.1), "0.1");
    assert_eq!(g6(0.00001), "1e-05");
    assert_eq!(g6(0.333333333), "0.333333");
    assert_eq!(g6(123.456789), "123.457");
    assert_eq!(g6(1234567.0), "1.23457e+06");
    assert_eq!(g6(0.0001), "0.0001");
}

#[test]
fn tc_rate_text_matches_print_color_rate() {
    assert_eq!(tc_rate_text(2_000_000 / 8), "2Mbit");
    assert_eq!(tc_rate_text(600_000 / 8), "600Kbit");
    assert_eq!(tc_rate_text(1_500_000 / 8), "1500Kbit");
    assert_eq!(tc_rate_text(1_000_000_000 / 8), "1Gbit");
    assert_eq!(tc_rate_text(1_234_567_000 / 8), "1234Mbit");
    assert_eq!(tc_rate_text(500 / 8), "496bit");
}
