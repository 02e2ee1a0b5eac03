//! The code's layout: dependencies between source files run one way. A file's `use crate::`
//! and `super::` paths name the files it depends on; a cycle among them fails this test, and
//! so does the shared vocabulary (`src/vocab/`) importing anything of vcall, or a file outside
//! `src/peer/` using webrtc-rs, or a command matching on the protocol, or the server's room
//! core naming a protocol.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file below `dir`, relative to `src/`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("src readable") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p.strip_prefix(src()).expect("under src").to_owned());
        }
    }
}

/// The file a module path names: its longest prefix that is a file.
fn module_file(parts: &[&str]) -> Option<PathBuf> {
    (1..=parts.len()).rev().find_map(|n| {
        let base: PathBuf = parts[..n].iter().collect();
        [base.with_extension("rs"), base.join("mod.rs")]
            .into_iter()
            .find(|f| src().join(f).is_file())
    })
}

/// The module path of a file: `a/b.rs` is a::b, `a/mod.rs` is a, the crate roots are empty.
fn module_of(file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .with_extension("")
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|l| l == "mod") {
        parts.pop();
    }
    if parts == ["lib"] || parts == ["main"] {
        parts.clear();
    }
    parts
}

/// The paths after each occurrence of `prefix` (`crate::`, `super::`) in `text`.
fn paths_after<'a>(text: &'a str, prefix: &str) -> Vec<Vec<&'a str>> {
    text.match_indices(prefix)
        .filter(|(i, _)| {
            !text[..*i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
        .map(|(i, _)| {
            let rest = &text[i + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            rest[..end].split("::").filter(|s| !s.is_empty()).collect()
        })
        .collect()
}

/// Each file's dependencies on other files (its tests left out).
fn graph() -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut all = Vec::new();
    files(&src(), &mut all);
    let roots = [PathBuf::from("lib.rs"), PathBuf::from("main.rs")];
    all.iter()
        .map(|file| {
            let text = std::fs::read_to_string(src().join(file)).expect("source");
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let here = module_of(file);
            let parent: Vec<&str> = here
                .iter()
                .take(here.len().saturating_sub(1))
                .map(String::as_str)
                .collect();
            let mut refs = paths_after(code, "crate::");
            refs.extend(paths_after(code, "super::").into_iter().map(|p| {
                let mut full = parent.clone();
                full.extend(p);
                full
            }));
            let deps = refs
                .iter()
                .filter_map(|p| module_file(p))
                .filter(|d| d != file && !roots.contains(d))
                .collect();
            (file.clone(), deps)
        })
        .collect()
}

/// A path from `to` back to `from`, if `to` can reach it.
fn path_back(
    g: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
    from: &Path,
    to: &Path,
) -> Option<Vec<PathBuf>> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![(to.to_owned(), vec![to.to_owned()])];
    while let Some((at, path)) = stack.pop() {
        if at == from {
            return Some(path);
        }
        if !seen.insert(at.clone()) {
            continue;
        }
        for next in g.get(&at).into_iter().flatten() {
            let mut p = path.clone();
            p.push(next.clone());
            stack.push((next.clone(), p));
        }
    }
    None
}

#[test]
fn source_files_depend_on_each_other_one_way() {
    let g = graph();
    assert!(g.len() > 20, "too few source files found: {g:?}");
    let mut cycles = Vec::new();
    for (file, deps) in &g {
        for dep in deps {
            if let Some(back) = path_back(&g, file, dep) {
                let names: Vec<String> = std::iter::once(file.clone())
                    .chain(back)
                    .map(|p| p.display().to_string())
                    .collect();
                cycles.push(names.join(" -> "));
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "cycles between source files:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_vocabulary_imports_nothing_of_vcall() {
    let g = graph();
    let outside: Vec<String> = g
        .iter()
        .filter(|(file, _)| file.starts_with("vocab"))
        .flat_map(|(file, deps)| {
            deps.iter()
                .filter(|d| !d.starts_with("vocab"))
                .map(move |d| format!("{} -> {}", file.display(), d.display()))
        })
        .collect();
    assert!(g.keys().any(|f| f.starts_with("vocab")), "no src/vocab/");
    assert!(outside.is_empty(), "the vocabulary imports: {outside:?}");
}

#[test]
fn only_peer_knows_webrtc_rs() {
    let mut all = Vec::new();
    files(&src(), &mut all);
    let knowing: Vec<&PathBuf> = all
        .iter()
        .filter(|f| !f.starts_with("peer"))
        .filter(|f| {
            std::fs::read_to_string(src().join(f))
                .expect("source")
                .contains("webrtc::")
        })
        .collect();
    assert!(
        knowing.is_empty(),
        "webrtc-rs used outside src/peer/: {knowing:?}"
    );
}

#[test]
fn the_cli_definitions_import_nothing_of_the_commands() {
    let reaching: Vec<(PathBuf, PathBuf)> = graph()
        .into_iter()
        .filter(|(file, _)| file.starts_with("cli"))
        .flat_map(|(file, deps)| deps.into_iter().map(move |d| (file.clone(), d)))
        .filter(|(_, dep)| dep.starts_with("client"))
        .collect();
    assert!(
        reaching.is_empty(),
        "src/cli/ importing src/client/: {reaching:?}"
    );
}

#[test]
fn commands_never_match_on_the_protocol() {
    let mut all = Vec::new();
    files(&src().join("client"), &mut all);
    let matching: Vec<&PathBuf> = all
        .iter()
        // `client::join` makes the client the URL names: the one place that sees them.
        .filter(|f| *f != Path::new("client/mod.rs"))
        .filter(|f| {
            let text = std::fs::read_to_string(src().join(f)).expect("source");
            ["Native", "Janus", "Whip", "LiveKit"]
                .iter()
                .any(|p| text.contains(&format!("Client::{p}")))
        })
        .collect();
    assert!(
        matching.is_empty(),
        "commands matching on the protocol (signaling/negotiate.rs is the place): {matching:?}"
    );
}

#[test]
fn only_the_cli_makes_flags() {
    // Commands read their flags once into settings; in-process callers (the demo, echo-test)
    // make settings, never clap structs by hand.
    let mut all = Vec::new();
    files(&src(), &mut all);
    let making: Vec<String> = all
        .iter()
        .filter(|f| !f.starts_with("cli"))
        .filter_map(|f| {
            let text = std::fs::read_to_string(src().join(f)).expect("source");
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let literal = code.match_indices("Args {").find(|(i, _)| {
                let before = &code[..*i];
                let name_start = before
                    .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .map_or(0, |j| j + 1);
                let word_before = before[..name_start].trim_end();
                // `struct XArgs {` and `impl … for XArgs {` define, not make.
                !(word_before.ends_with("struct") || word_before.ends_with("for"))
            })?;
            Some(format!(
                "{}: …{}",
                f.display(),
                &code[literal.0.saturating_sub(30)..literal.0 + 6]
            ))
        })
        .collect();
    assert!(
        making.is_empty(),
        "clap structs made outside src/cli/: {making:?}"
    );
}

#[test]
fn the_room_core_knows_no_protocol() {
    // Its requests and replies (`server/intent.rs`) are no wire's; each front end
    // (`server/native.rs`, `whip.rs`, `livekit.rs`) is the codec for its own.
    let g = graph();
    let core = [
        PathBuf::from("server/room.rs"),
        PathBuf::from("server/intent.rs"),
    ];
    let knowing: Vec<String> = core
        .iter()
        .flat_map(|f| g.get(f).unwrap_or_else(|| panic!("no {}", f.display())))
        .filter(|d| {
            d.starts_with("signaling") || d.ends_with("livekit.rs") || d.ends_with("whip.rs")
        })
        .map(|d| d.display().to_string())
        .collect();
    assert!(knowing.is_empty(), "the room core imports: {knowing:?}");
}

#[test]
fn the_check_sees_a_cycle() {
    // A check of the check: two files naming each other form a cycle it reports.
    let text = "use crate::record::codecs::nal_units;\nuse super::assemble::Frame;";
    assert_eq!(
        paths_after(text, "crate::"),
        [vec!["record", "codecs", "nal_units"]]
    );
    assert_eq!(paths_after(text, "super::"), [vec!["assemble", "Frame"]]);
    let (a, b) = (PathBuf::from("a.rs"), PathBuf::from("b.rs"));
    let g = BTreeMap::from([
        (a.clone(), BTreeSet::from([b.clone()])),
        (b.clone(), BTreeSet::from([a.clone()])),
    ]);
    assert_eq!(path_back(&g, &a, &b), Some(vec![b.clone(), a.clone()]));
    assert_eq!(module_of(Path::new("record/mod.rs")), ["record"]);
    assert_eq!(
        module_file(&["record", "codecs", "nal_units"]),
        Some(PathBuf::from("record/codecs.rs"))
    );
}
