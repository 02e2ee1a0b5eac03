//! The generated completions and man page in `completions/` match the CLI definition.
//! Run with `VCALL_UPDATE_COMPLETIONS=1` to regenerate them.

use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

fn generated() -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::PowerShell,
        Shell::Elvish,
    ] {
        let mut cmd = vcall::cli::Cli::command();
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut cmd, "vcall", &mut buf);
        let name = match shell {
            Shell::Bash => "vcall.bash",
            Shell::Zsh => "_vcall",
            Shell::Fish => "vcall.fish",
            Shell::PowerShell => "_vcall.ps1",
            _ => "vcall.elv",
        };
        files.push((name.to_owned(), buf));
    }
    let mut man = Vec::new();
    clap_mangen::Man::new(vcall::cli::Cli::command())
        .render(&mut man)
        .expect("man page renders");
    files.push(("vcall.1".to_owned(), man));
    files
}

#[test]
fn completions_and_man_page_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let update = std::env::var_os("VCALL_UPDATE_COMPLETIONS").is_some();
    let mut stale = Vec::new();
    for (name, content) in generated() {
        let path = dir.join(&name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &content).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(&content[..]) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "stale in completions/: {stale:?}; run VCALL_UPDATE_COMPLETIONS=1 cargo test completions"
    );
}
