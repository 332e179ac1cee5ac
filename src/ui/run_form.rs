//! The Run dialog's form as data: the port rows and their text form, and the checks made as
//! the user types (the same as `quayside run` makes, plus what the window knows of the host:
//! its containers' names and its images). Pure: nothing here draws or sends.

use super::app::App;
use crate::docker::ports::{PortMapping, Protocol};
use crate::docker::run::{self, RunSpec};

/// One port mapping as typed in the rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PortRow {
    pub(crate) container_port: String,
    pub(crate) protocol: Protocol,
    pub(crate) host_port: String,
}

/// The rows in the original format (rows with both ports empty are left out).
pub(crate) fn rows_text(rows: &[PortRow]) -> String {
    rows.iter()
        .filter(|r| !(r.container_port.trim().is_empty() && r.host_port.trim().is_empty()))
        .map(|r| {
            format!(
                "{}/{}:{}",
                r.container_port.trim(),
                r.protocol.as_str(),
                r.host_port.trim()
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn rows_of(mappings: &[PortMapping]) -> Vec<PortRow> {
    mappings
        .iter()
        .map(|m| PortRow {
            container_port: m.container_port.to_string(),
            protocol: m.protocol,
            host_port: match &m.host_ip {
                Some(ip) => format!("{ip}:{}", m.host_port),
                None => m.host_port.to_string(),
            },
        })
        .collect()
}

/// Checks the fields against each other and what the window knows of the host; returns the
/// spec to send, or every problem found (field, message).
pub(crate) fn check(app: &App) -> Result<RunSpec, Vec<(&'static str, String)>> {
    let d = &app.run_dialog;
    let mut problems = Vec::new();
    let Some(host) = &d.host else {
        return Err(vec![("Host", "choose a host".to_owned())]);
    };
    if let Some(e) = &d.ports_text_error {
        problems.push(("Ports", e.clone()));
    }
    let ports = d.rows_mappings().unwrap_or_else(|e| {
        problems.push(("Ports", e));
        Vec::new()
    });
    let env = run::parse_env(&d.env_text).unwrap_or_else(|e| {
        problems.push(("Environment", e.to_string()));
        Vec::new()
    });
    let command = run::split_command(&d.command).unwrap_or_else(|e| {
        problems.push(("Command", e));
        Vec::new()
    });
    let spec = RunSpec {
        image: d.image.trim().to_owned(),
        name: d.name.trim().to_owned(),
        ports,
        env,
        command,
        network: d.network.trim().to_owned(),
        restart: d.restart,
        auto_remove: d.auto_remove,
    };
    if let Err(e) = spec.validate() {
        let field = match e {
            run::RunError::NoImage => "Image",
            run::RunError::BadName(_) => "Name",
            run::RunError::BadEnv(_) => "Environment",
            run::RunError::Ports(_) => "Ports",
            _ => "Restart",
        };
        problems.push((field, e.to_string()));
    }
    if !spec.name.is_empty()
        && app
            .store
            .containers_of(host)
            .any(|row| row.name == spec.name)
    {
        problems.push((
            "Name",
            format!(
                "the name '{}' is taken on host {host}: choose another name",
                spec.name
            ),
        ));
    }
    if let Some(Ok(images)) = d.choices.get(host).and_then(|c| c.images.as_ref())
        && !spec.image.is_empty()
        && !image_listed(images, &spec.image)
    {
        problems.push((
            "Image",
            format!(
                "image '{}' is not on host {host}; images cannot be pulled from here",
                spec.image
            ),
        ));
    }
    if problems.is_empty() {
        Ok(spec)
    } else {
        Err(problems)
    }
}

/// Whether `image` is among the host's tags (`busybox` means `busybox:latest`); an id prefix
/// is left for the engine to check.
fn image_listed(images: &[String], image: &str) -> bool {
    let with_tag = if image
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'))
    {
        image.to_owned()
    } else {
        format!("{image}:latest")
    };
    images.iter().any(|i| *i == with_tag || *i == image)
        || image.starts_with("sha256:")
        || (image.len() >= 12 && image.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::ports;

    #[test]
    fn rows_and_text_say_the_same_mappings() {
        let mappings = ports::parse("80/tcp:83,443/udp:127.0.0.1:448").unwrap_or_default();
        let rows = rows_of(&mappings);
        assert_eq!(rows_text(&rows), "80/tcp:83,443/udp:127.0.0.1:448");
        assert_eq!(ports::parse(&rows_text(&rows)), Ok(mappings));
    }

    #[test]
    fn an_image_without_a_tag_means_latest() {
        let images = vec!["quayside-lab/busybox:latest".to_owned()];
        assert!(image_listed(&images, "quayside-lab/busybox"));
        assert!(image_listed(&images, "quayside-lab/busybox:latest"));
        assert!(!image_listed(&images, "nginx:alpine"));
        assert!(!image_listed(&images, "quayside-lab/busybox:1.36"));
    }
}
