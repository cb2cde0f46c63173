//! The `hosts` parameter: a comma-separated list of `host`, `host:port`, IPv4 and IPv6
//! addresses (`[v6]:port` for a port), as upstream's runner splits it
//! (`paramiko_ssh_runner.py` `pre_run`, `st2common/util/ip_utils.py` `split_host_port`).

use std::net::IpAddr;

/// One entry of the `hosts` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Host {
    /// The entry as given (trimmed).
    pub given: String,
    /// The host name or address to connect to (brackets of an IPv6 address removed).
    pub name: String,
    /// The port the entry names, if any.
    pub port: Option<u16>,
    /// The key of this host's result: the name, as upstream keys its results, or the entry
    /// as given when two entries name the same host on different ports (upstream would
    /// overwrite one result with the other).
    pub key: String,
}

/// The hosts of the `hosts` parameter: split on commas, trimmed, empty entries dropped,
/// repeated entries run once.
pub(crate) fn parse(value: &str) -> Result<Vec<Host>, String> {
    let mut hosts: Vec<Host> = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if hosts.iter().any(|host| host.given == entry) {
            continue;
        }
        let (name, port) = split_host_port(entry)?;
        check_name(entry, &name)?;
        hosts.push(Host {
            given: entry.to_string(),
            key: name.clone(),
            name,
            port,
        });
    }
    let names: Vec<String> = hosts.iter().map(|host| host.name.clone()).collect();
    for host in &mut hosts {
        if names.iter().filter(|name| **name == host.name).count() > 1 {
            host.key = host.given.clone();
        }
    }
    Ok(hosts)
}

/// Upstream's `split_host_port`: an IP address as is; `[address]` or `[address]:port`;
/// `name:port`; else the name alone.
pub(crate) fn split_host_port(text: &str) -> Result<(String, Option<u16>), String> {
    if text.parse::<IpAddr>().is_ok() {
        return Ok((text.to_string(), None));
    }
    let port_of = |port: &str| -> Result<u16, String> {
        port.trim()
            .parse::<u16>()
            .ok()
            .filter(|port| *port > 0)
            .ok_or_else(|| format!("Invalid port {port} specified (host \"{text}\")."))
    };
    if text.starts_with('[') {
        if text.ends_with(']') {
            return Ok((text.trim_matches(['[', ']']).to_string(), None));
        }
        let (name, port) = text.rsplit_once(':').unwrap_or((text, ""));
        return Ok((
            name.trim_matches(['[', ']']).to_string(),
            Some(port_of(port)?),
        ));
    }
    match text.rsplit_once(':') {
        Some((name, port)) => Ok((name.to_string(), Some(port_of(port)?))),
        None => Ok((text.to_string(), None)),
    }
}

/// A name `ssh` could take for an option, or that holds what no host name holds, is refused
/// before anything runs.
fn check_name(entry: &str, name: &str) -> Result<(), String> {
    let bad = name.is_empty()
        || name.starts_with('-')
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "'\"`$;&|<>\\".contains(c));
    if bad {
        return Err(format!(
            "invalid host \"{entry}\" in the hosts parameter: give host names or addresses, \
             separated by commas (host, host:port, [IPv6]:port)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upstream's `test_parallel_ssh.py::test_host_port_info` and `ip_utils` cases.
    #[test]
    fn test_host_port_info() {
        let split = |text: &str| split_host_port(text).unwrap();
        assert_eq!(split("1.2.3.4"), ("1.2.3.4".into(), None));
        assert_eq!(split("[fec2::10]:55"), ("fec2::10".into(), Some(55)));
        assert_eq!(split("fec2::10"), ("fec2::10".into(), None));
        assert_eq!(split("[fec2::10]"), ("fec2::10".into(), None));
        assert_eq!(split("localhost:22"), ("localhost".into(), Some(22)));
        assert_eq!(split("st2build001"), ("st2build001".into(), None));
        let err = split_host_port("web1:http").unwrap_err();
        assert!(err.contains("Invalid port http specified"), "{err}");
        assert!(split_host_port("web1:0").is_err());
        assert!(split_host_port("[::1]:99999").is_err());
    }

    #[test]
    fn hosts_are_split_trimmed_and_keyed_by_name() {
        let hosts = parse(" a, b:2222,,a ,[::1]:22").unwrap();
        let keys: Vec<&str> = hosts.iter().map(|h| h.key.as_str()).collect();
        assert_eq!(keys, ["a", "b", "::1"]);
        assert_eq!(hosts[1].port, Some(2222));
        // The same host on two ports: each result keyed by the entry as given.
        let hosts = parse("a:1,a:2").unwrap();
        let keys: Vec<&str> = hosts.iter().map(|h| h.key.as_str()).collect();
        assert_eq!(keys, ["a:1", "a:2"]);
        assert!(parse("").unwrap().is_empty());
        for bad in ["-oProxyCommand=x", "a b", "a;b", "$(x)"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
