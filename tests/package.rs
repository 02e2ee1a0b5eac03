//! The Debian package (`cargo deb`, README: Installing): built from the binary these tests
//! run, installed with dpkg into an empty root, it puts everything where Debian keeps it, and
//! the installed binary works.

use std::path::Path;
use std::process::Command;

use crate::common::{run, temp_dir};

/// Runs `cmd`, failing the test with its output unless it succeeds.
fn ok(mut cmd: Command) -> String {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_debian_package_installs_and_runs() {
    let dir = temp_dir();
    let debs = dir.path().join("debs");
    // The binary the tests built (the dev profile, which cargo-deb warns about: a release
    // build here would cost minutes and package the same files).
    let mut build = Command::new(env!("CARGO"));
    build
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "deb",
            "--quiet",
            "--no-build",
            "--profile",
            "dev",
            "--strip",
        ])
        .args(["--compress-type", "gz", "--fast", "--output"])
        .arg(&debs);
    ok(build);
    let deb = std::fs::read_dir(&debs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .expect("a .deb was made");

    // An empty root with a dpkg database of its own; its libraries are the host's.
    let root = dir.path().join("root");
    let admin = root.join("var/lib/dpkg");
    std::fs::create_dir_all(admin.join("info")).unwrap();
    std::fs::create_dir_all(admin.join("updates")).unwrap();
    std::fs::write(admin.join("status"), "").unwrap();
    let mut install = Command::new("dpkg");
    install
        .arg(format!("--root={}", root.display()))
        .args(["--force-depends", "--force-not-root", "--install"])
        .arg(&deb);
    ok(install);
    let mut list = Command::new("dpkg");
    list.arg(format!("--root={}", root.display()))
        .args(["--listfiles", "vcall"]);
    let files = ok(list);
    for path in [
        "/usr/bin/vcall",
        "/usr/share/man/man1/vcall.1.gz",
        "/usr/share/bash-completion/completions/vcall",
        "/usr/share/zsh/vendor-completions/_vcall",
        "/usr/share/fish/vendor_completions.d/vcall.fish",
    ] {
        assert!(
            files.lines().any(|l| l == path) && root.join(&path[1..]).is_file(),
            "{path} not installed: {files}"
        );
    }

    // FFmpeg's libraries are loaded at their first use (src/codec/ffmpeg.c): the binary
    // needs none of them to start, and the package names them itself.
    let vcall = root.join("usr/bin/vcall");
    let mut needed = Command::new("readelf");
    needed.arg("--dynamic").arg(&vcall);
    let needed = ok(needed);
    assert!(
        !cfg!(ffmpeg_lazy)
            || needed.contains("(NEEDED)")
                && !needed.contains("libav")
                && !needed.contains("libsw"),
        "FFmpeg linked at start: a function vcall calls is missing from src/codec/ffmpeg.c\n{needed}"
    );
    let mut depends = Command::new("dpkg-deb");
    depends.args(["--field"]).arg(&deb).arg("Depends");
    let depends = ok(depends);
    for lib in ["libavformat", "libavcodec", "libswscale", "libswresample"] {
        assert!(depends.contains(lib), "{lib} not in Depends: {depends}");
    }
    let mut version = Command::new(&vcall);
    version.arg("--version");
    assert!(ok(version).starts_with("vcall "));
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let mut demo = Command::new(&vcall);
    demo.current_dir(&work)
        .args(["demo", "--duration", "1s", "-q"])
        .env("XDG_CONFIG_HOME", "/nonexistent/vcall-tests");
    let (code, out, err) = run(demo);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        Path::new(&work.join("vcall-demo.mp4")).is_file(),
        "no recording: {out}"
    );
}
