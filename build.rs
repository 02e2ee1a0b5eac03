//! Builds the thin C layer over the system's libvpx (src/codec/vpx.c): its encoder
//! configuration is a struct whose layout follows libvpx's ABI version, so only C compiled
//! against the installed headers touches it.

fn main() {
    println!("cargo:rerun-if-changed=src/codec/vpx.c");
    let vpx = match pkg_config::Config::new()
        .atleast_version("1.8")
        .probe("vpx")
    {
        Ok(lib) => lib,
        Err(e) => panic!(
            "libvpx (VP8) was not found: {e}\nOn Debian/Ubuntu: scripts/setup.sh installs it (apt-get install libvpx-dev)"
        ),
    };
    let mut build = cc::Build::new();
    build.file("src/codec/vpx.c").warnings(true);
    for dir in &vpx.include_paths {
        build.include(dir);
    }
    build.compile("vcall_vpx");
}
