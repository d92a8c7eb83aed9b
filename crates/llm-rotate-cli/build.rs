//! Names the git commit the binary is built from, for `llm-rotate --version`
//! (`0.1.0 (3f2a9c1b7d4e)`; a build from a package, with no git, prints the version
//! alone).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn main() {
    let version = env!("CARGO_PKG_VERSION");
    // a package has no .git of its own: only name a commit when this crate is in the
    // repository's tree
    let here = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let inside = git(&["-C", &here, "rev-parse", "--show-prefix"])
        .is_some_and(|prefix| prefix.starts_with("crates/llm-rotate-cli"));
    let described = match git(&["-C", &here, "rev-parse", "--short=12", "HEAD"]).filter(|_| inside)
    {
        Some(hash) => {
            if let Some(dir) = git(&["-C", &here, "rev-parse", "--absolute-git-dir"]) {
                for name in ["HEAD", "refs/heads", "packed-refs"] {
                    let path = format!("{dir}/{name}");
                    // a path that does not exist would rerun this script on every build
                    if std::path::Path::new(&path).exists() {
                        println!("cargo:rerun-if-changed={path}");
                    }
                }
            }
            format!("{version} ({hash})")
        }
        None => version.to_owned(),
    };
    println!("cargo:rustc-env=LLM_ROTATE_LONG_VERSION={described}");
    println!("cargo:rerun-if-changed=build.rs");
}
