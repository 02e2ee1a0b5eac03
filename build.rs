//! Builds the two C files vcall has: the thin layer over the system's libvpx
//! (src/codec/vpx.c: its encoder configuration is a struct whose layout follows libvpx's ABI
//! version, so only C compiled against the installed headers touches it), and the
//! trampolines that load FFmpeg's libraries at their first use (src/codec/ffmpeg.c).

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
    ffmpeg_trampolines();
}

/// src/codec/ffmpeg.c, told each FFmpeg library's file name (its major version), linked
/// whole: its definitions are the ones vcall's calls bind to, so the linker (`--as-needed`)
/// leaves FFmpeg's libraries out of the binary's needs (cfg `ffmpeg_lazy`). Its prototypes
/// are FFmpeg 5's and 6's: another FFmpeg is linked as usual, with a warning.
fn ffmpeg_trampolines() {
    println!("cargo:rerun-if-changed=src/codec/ffmpeg.c");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo::rustc-check-cfg=cfg(ffmpeg_lazy)");
    let mut build = cc::Build::new();
    build
        .file("src/codec/ffmpeg.c")
        .warnings(true)
        .flag("-fvisibility=hidden")
        .cargo_metadata(false);
    for (lib, define) in [
        ("libavutil", "VCALL_AVUTIL"),
        ("libswresample", "VCALL_SWRESAMPLE"),
        ("libswscale", "VCALL_SWSCALE"),
        ("libavcodec", "VCALL_AVCODEC"),
        ("libavformat", "VCALL_AVFORMAT"),
    ] {
        let found = match pkg_config::Config::new().cargo_metadata(false).probe(lib) {
            Ok(found) => found,
            Err(e) => panic!(
                "{lib} (FFmpeg) was not found: {e}\nOn Debian/Ubuntu: scripts/setup.sh installs it (apt-get install {lib}-dev)"
            ),
        };
        let major = found.version.split('.').next().unwrap_or_default();
        if lib == "libavcodec" && !["59", "60"].contains(&major) {
            println!(
                "cargo:warning=FFmpeg's libavcodec {major} is linked as usual: vcall loads FFmpeg at first use with FFmpeg 5 and 6 (libavcodec 59, 60)"
            );
            return;
        }
        build.define(define, format!("\"{lib}.so.{major}\"").as_str());
        for dir in &found.include_paths {
            build.include(dir);
        }
    }
    build.compile("vcall_ffmpeg");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    println!("cargo:rustc-link-search=native={out}");
    println!("cargo:rustc-link-lib=static:+whole-archive=vcall_ffmpeg");
    println!("cargo:rustc-link-lib=dl");
    println!("cargo:rustc-cfg=ffmpeg_lazy");
}
