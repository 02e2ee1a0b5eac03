//! The configuration file's profiles, and their precedence: flags over environment over file.

use vcall::auth::Role;

use crate::common::*;

/// `vcall config show --json ARGS` with `env`.
fn show(env: &[(&str, &str)], args: &[&str]) -> serde_json::Value {
    let mut cmd = vcall();
    cmd.envs(env.iter().copied())
        .args(["config", "show", "--json"])
        .args(args);
    let out = cmd.output().expect("vcall runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
fn flags_win_over_environment_and_environment_over_the_file() {
    let dir = temp_dir();
    let file = dir.path().join("vcall.toml");
    std::fs::write(
        &file,
        "[default]\nurl = \"ws://file-default:1\"\nsession = \"file-session\"\ntimeout = \"3s\"\n\n\
         [staging]\nurl = \"ws://file-staging:1\"\ntoken = \"secret-from-file\"\n",
    )
    .unwrap();
    let v = show(&[], &["--config", &path_str(&file)]);
    assert_eq!(v["profile"], "default");
    assert_eq!(v["settings"]["url"]["value"], "ws://file-default:1");
    assert_eq!(v["settings"]["url"]["source"], "file [default]");
    assert_eq!(v["settings"]["timeout"]["value"], "3s");
    assert_eq!(v["settings"]["retry_delay"]["source"], "default");
    assert_eq!(v["settings"]["max_retries"]["source"], "unset");

    let v = show(
        &[
            ("VCALL_CONFIG", &path_str(&file)),
            ("VCALL_PROFILE", "staging"),
            ("VCALL_URL", "ws://env:1"),
        ],
        &["--session", "flag-session"],
    );
    assert_eq!(v["profile"], "staging");
    assert_eq!(v["settings"]["url"]["value"], "ws://env:1");
    assert_eq!(v["settings"]["url"]["source"], "env VCALL_URL");
    assert_eq!(v["settings"]["session"]["value"], "flag-session");
    assert_eq!(v["settings"]["session"]["source"], "flag");
    assert_eq!(v["settings"]["token"]["source"], "file [staging]");
    // Secrets are masked.
    let text = v.to_string();
    assert!(!text.contains("secret-from-file"), "{text}");
    assert_eq!(v["settings"]["token"]["value"], "******** (16 characters)");
}

#[test]
fn a_profile_connects_with_nothing_on_the_command_line() {
    let server = Server::start();
    let session = server.session();
    let dir = temp_dir();
    // The default place: $XDG_CONFIG_HOME/vcall/config.toml.
    std::fs::create_dir_all(dir.path().join("vcall")).unwrap();
    std::fs::write(
        dir.path().join("vcall/config.toml"),
        format!(
            "[ci]\nurl = \"{}\"\nsession = \"{session}\"\ntoken = \"{}\"\n",
            server.url,
            server.token(&session, Role::Subscriber)
        ),
    )
    .unwrap();
    let mut c = vcall();
    c.env("XDG_CONFIG_HOME", dir.path())
        .args(["list-streams", "--profile", "ci"]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("0 stream(s)"), "{out}");
}

#[test]
fn configuration_mistakes_are_usage_errors() {
    let dir = temp_dir();
    let file = dir.path().join("vcall.toml");
    std::fs::write(&file, "[default]\nurll = \"ws://x:1\"\n").unwrap();
    let mut c = vcall();
    c.args(["--config", &path_str(&file), "config", "show"]);
    let (code, _, err) = run(c);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("urll: unknown setting"), "{err}");

    std::fs::write(&file, "[default]\nurl = \"ws://x:1\"\n").unwrap();
    let mut c = vcall();
    c.args([
        "--config",
        &path_str(&file),
        "--profile",
        "nope",
        "config",
        "show",
    ]);
    let (code, _, err) = run(c);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no profile [nope] (profiles: default)"),
        "{err}"
    );

    std::fs::write(&file, "[default\n").unwrap();
    let mut c = vcall();
    c.args(["--config", &path_str(&file), "config", "show"]);
    let (code, _, err) = run(c);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("vcall.toml"), "{err}");
}
