//! The configuration file: named profiles of connection settings (`~/.config/vcall/config.toml`).
//!
//! ```toml
//! [default]
//! url = "ws://127.0.0.1:7880"
//!
//! [staging]
//! url = "janus+wss://janus.staging.example:8989"
//! token = "..."
//! ```
//!
//! Flags win over the environment, the environment over the file. The file sits at the bottom by
//! construction: before the command line is parsed, the chosen profile's values become `VCALL_*`
//! environment variables where the environment has none, and clap takes it from there.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use serde_json::json;

use crate::exit::{CmdResult, Exit, Failure};

/// One setting: its key in the file, its environment variable, its flag's id, and whether
/// it is a secret (masked by `config show`).
struct Key {
    name: &'static str,
    env: &'static str,
    secret: bool,
}

const KEYS: &[Key] = &[
    Key {
        name: "url",
        env: "VCALL_URL",
        secret: false,
    },
    Key {
        name: "session",
        env: "VCALL_SESSION",
        secret: false,
    },
    Key {
        name: "token",
        env: "VCALL_TOKEN",
        secret: true,
    },
    Key {
        name: "data",
        env: "VCALL_DATA",
        secret: false,
    },
    Key {
        name: "ice_servers",
        env: "VCALL_ICE_SERVERS",
        secret: false,
    },
    Key {
        name: "timeout",
        env: "VCALL_TIMEOUT",
        secret: false,
    },
    Key {
        name: "api_key",
        env: "VCALL_API_KEY",
        secret: false,
    },
    Key {
        name: "api_secret",
        env: "VCALL_API_SECRET",
        secret: true,
    },
    Key {
        name: "pin",
        env: "VCALL_PIN",
        secret: true,
    },
    Key {
        name: "display",
        env: "VCALL_DISPLAY",
        secret: false,
    },
    Key {
        name: "create_room",
        env: "VCALL_CREATE_ROOM",
        secret: false,
    },
    Key {
        name: "max_retries",
        env: "VCALL_MAX_RETRIES",
        secret: false,
    },
    Key {
        name: "retry_delay",
        env: "VCALL_RETRY_DELAY",
        secret: false,
    },
    Key {
        name: "keepalive_interval",
        env: "VCALL_KEEPALIVE_INTERVAL",
        secret: false,
    },
];

/// Why the configuration file could not be used. Every one is a usage error (exit 2): the
/// command does not run on settings other than those asked for.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error("profile {profile:?} asked for, but there is no configuration file at {}", path.display())]
    NoFile { profile: String, path: PathBuf },
    #[error("{}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("{}: [{profile}] must be a table", path.display())]
    NotATable { path: PathBuf, profile: String },
    #[error("{}: no profile [{profile}] (profiles: {})", path.display(), names_or_none(.profiles))]
    NoProfile {
        path: PathBuf,
        profile: String,
        profiles: Vec<String>,
    },
    #[error("{}: [{profile}] {name}: unknown setting (known: {})", path.display(), known_names())]
    UnknownSetting {
        path: PathBuf,
        profile: String,
        name: String,
    },
    #[error("{}: [{profile}] {name}: unsupported value {value}", path.display())]
    BadValue {
        path: PathBuf,
        profile: String,
        name: String,
        value: String,
    },
}

fn names_or_none(names: &[String]) -> String {
    match names.is_empty() {
        true => "none".to_owned(),
        false => names.join(", "),
    }
}

fn known_names() -> String {
    KEYS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Failure {
        Failure::caused_by(Exit::Usage, e)
    }
}

/// What was read from the file.
#[derive(Debug, Default, Clone)]
pub(crate) struct Applied {
    pub(crate) path: Option<PathBuf>,
    pub(crate) profile: String,
    /// The environment variables this file set.
    pub(crate) set: Vec<&'static str>,
}

/// The value of `--NAME VALUE` or `--NAME=VALUE` on the command line, before clap runs.
fn flag_value(args: &[OsString], name: &str) -> Option<String> {
    let long = format!("--{name}");
    let prefix = format!("--{name}=");
    let mut it = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a == long {
            return it.next();
        }
        if let Some(v) = a.strip_prefix(&prefix) {
            return Some(v.to_owned());
        }
    }
    None
}

fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("vcall").join("config.toml"))
}

/// Reads the configuration file and moves the chosen profile into the environment (beneath
/// what is set there already). Runs before any other thread exists.
pub(crate) fn apply(args: &[OsString]) -> Result<Applied, ConfigError> {
    let explicit_path = flag_value(args, "config")
        .or_else(|| std::env::var("VCALL_CONFIG").ok())
        .map(PathBuf::from);
    let explicit_profile =
        flag_value(args, "profile").or_else(|| std::env::var("VCALL_PROFILE").ok());
    let profile = explicit_profile
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let Some(path) = explicit_path.clone().or_else(default_path) else {
        return Ok(Applied::default());
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit_path.is_none() => {
            if explicit_profile.is_some() {
                return Err(ConfigError::NoFile { profile, path });
            }
            return Ok(Applied {
                profile,
                ..Applied::default()
            });
        }
        Err(source) => return Err(ConfigError::Read { path, source }),
    };
    let mut set = Vec::new();
    for (env, value) in settings(&text, &path, &profile, explicit_profile.is_some())? {
        if std::env::var_os(env).is_none() {
            // SAFETY: called from `main` before the runtime or any other thread starts.
            unsafe { std::env::set_var(env, value) };
            set.push(env);
        }
    }
    Ok(Applied {
        path: Some(path),
        profile,
        set,
    })
}

/// The settings of `profile` in the configuration file's `text`, as (environment variable,
/// value) pairs; `explicit` when the profile was asked for by name (then it must exist).
fn settings(
    text: &str,
    path: &Path,
    profile: &str,
    explicit: bool,
) -> Result<Vec<(&'static str, String)>, ConfigError> {
    let path = path.to_owned();
    let profile = profile.to_owned();
    let doc: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.clone(),
        source: Box::new(e),
    })?;
    let table = match doc.get(&profile) {
        Some(toml::Value::Table(t)) => t.clone(),
        Some(_) => return Err(ConfigError::NotATable { path, profile }),
        None if explicit => {
            let profiles = doc.keys().cloned().collect();
            return Err(ConfigError::NoProfile {
                path,
                profile,
                profiles,
            });
        }
        None => toml::Table::new(),
    };
    let mut settings = Vec::new();
    for (name, value) in &table {
        let Some(key) = KEYS.iter().find(|k| k.name == name) else {
            return Err(ConfigError::UnknownSetting {
                path,
                profile,
                name: name.clone(),
            });
        };
        let text = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| format!("{i:?}"))
                })
                .collect::<Vec<_>>()
                .join(","),
            other => {
                return Err(ConfigError::BadValue {
                    path,
                    profile,
                    name: name.clone(),
                    value: format!("{other:?}"),
                });
            }
        };
        settings.push((key.env, text));
    }
    Ok(settings)
}

/// `vcall config show`: every setting, its value (secrets masked) and where it came from.
pub(crate) fn show(applied: &Applied, matches: &clap::ArgMatches, json_out: bool) -> CmdResult {
    let mut rows = Vec::new();
    for key in KEYS {
        let source = match matches.value_source(key.name) {
            Some(ValueSource::CommandLine) => "flag".to_owned(),
            Some(ValueSource::EnvVariable) if applied.set.contains(&key.env) => {
                format!("file [{}]", applied.profile)
            }
            Some(ValueSource::EnvVariable) => format!("env {}", key.env),
            Some(ValueSource::DefaultValue) => "default".to_owned(),
            _ => "unset".to_owned(),
        };
        let raw: Option<String> = matches
            .get_raw(key.name)
            .map(|vals| {
                vals.map(|v| v.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .filter(|v| !v.is_empty());
        let shown = match raw {
            None => String::new(),
            Some(v) if key.secret => format!("******** ({} characters)", v.chars().count()),
            Some(v) => v,
        };
        rows.push((key.name, shown, source));
    }
    let file = applied
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "(none)".into());
    if json_out {
        let settings: serde_json::Map<String, serde_json::Value> = rows
            .iter()
            .map(|(k, v, s)| ((*k).to_owned(), json!({ "value": v, "source": s })))
            .collect();
        crate::jsonl::emit(
            "config",
            json!({ "file": file, "profile": applied.profile, "settings": settings }),
        );
    } else {
        println!("file     {file}");
        println!("profile  {}", applied.profile);
        for (k, v, s) in rows {
            println!("{k:<20} {:<44} {s}", if v.is_empty() { "-" } else { &v });
        }
    }
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_values_are_found_before_parsing() {
        let args: Vec<OsString> = ["vcall", "connect", "--profile", "x", "--config=/c.toml"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(flag_value(&args, "profile").as_deref(), Some("x"));
        assert_eq!(flag_value(&args, "config").as_deref(), Some("/c.toml"));
        assert_eq!(flag_value(&args, "url"), None);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn prop_any_configuration_file_is_read_or_refused(
                text in prop_oneof![
                    "\\PC{0,200}",
                    "(\\[[a-z]{1,5}\\]\n([a-z_]{1,12} = (\"[a-z:/0-9]{0,10}\"|[0-9]{1,4}|true|\\[\"a\", 1\\]|\\{\\})\n){0,4}){0,3}",
                ],
                profile in "[a-z]{1,5}",
                explicit in any::<bool>(),
            ) {
                let _ = settings(&text, Path::new("c.toml"), &profile, explicit);
            }
        }
    }
}
