//! `cargo xtask release` on a fresh clone of the workspace: a patch release bumps the
//! workspace version and every inter-crate dependency together and moves the
//! changelog; a dry run changes nothing; a dirty tree, a version that does not go up
//! and a changelog without its `Unreleased` section stop it before any file changes.
//! (Packaging and installing are left to the dry run CI makes: they build everything.)
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

struct Clone {
    dir: PathBuf,
}

impl Drop for Clone {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

fn clone(name: &str) -> Clone {
    let dir = std::env::temp_dir().join(format!("xtask-release-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let status = Command::new("git")
        .args(["clone", "--quiet", "--local", "--no-hardlinks"])
        .arg(workspace())
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    git(&dir, &["config", "user.email", "release@test.invalid"]);
    git(&dir, &["config", "user.name", "release test"]);
    Clone { dir }
}

fn release(dir: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("release")
        .args(["--skip-ci", "--skip-package"])
        .args(args)
        .env("XTASK_ROOT", dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

fn version_of(manifest: &str) -> String {
    let section = manifest.split("[workspace.package]").nth(1).unwrap();
    let line = section.lines().find(|l| l.starts_with("version")).unwrap();
    line.split('"').nth(1).unwrap().to_owned()
}

fn bumped(version: &str) -> String {
    let parts: Vec<u64> = version.split('.').map(|p| p.parse().unwrap()).collect();
    format!("{}.{}.{}", parts[0], parts[1], parts[2] + 1)
}

#[test]
fn a_patch_release_bumps_every_crate_and_moves_the_changelog() {
    let clone = clone("patch");
    let before = read(&clone.dir, "Cargo.toml");
    let current = version_of(&before);
    let next = bumped(&current);

    let (ok, out) = release(&clone.dir, &["--dry-run", "patch"]);
    assert!(ok, "{out}");
    assert_eq!(
        read(&clone.dir, "Cargo.toml"),
        before,
        "a dry run changes nothing"
    );
    assert!(out.contains("cargo publish -p rotate-core"), "{out}");

    let (ok, out) = release(&clone.dir, &["patch"]);
    assert!(ok, "{out}");
    let after = read(&clone.dir, "Cargo.toml");
    assert_eq!(version_of(&after), next);
    for name in [
        "rotate-core",
        "rotate-providers",
        "rotate-store",
        "rotate-google",
        "rotate-testkit",
        "llm-rotate",
    ] {
        let line = after
            .lines()
            .find(|l| l.starts_with(&format!("{name} = {{ path")))
            .unwrap();
        assert!(line.contains(&format!("version = \"{next}\"")), "{line}");
    }
    let changelog = read(&clone.dir, "CHANGELOG.md");
    let unreleased = changelog.find("## Unreleased").unwrap();
    let section = changelog.find(&format!("## {next} - ")).unwrap();
    assert!(
        unreleased < section,
        "a fresh Unreleased section above the release"
    );
    assert!(
        changelog[unreleased..section].trim() == "## Unreleased",
        "{changelog}"
    );
    assert!(read(&clone.dir, "Cargo.lock")
        .contains(&format!("name = \"rotate-core\"\nversion = \"{next}\"")));
    // the order to publish in, each crate after its dependencies
    let order: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("cargo publish -p "))
        .collect();
    assert_eq!(
        order,
        [
            "rotate-core",
            "rotate-providers",
            "rotate-store",
            "rotate-google",
            "rotate-testkit",
            "llm-rotate",
            "llm-rotate-cli"
        ]
    );

    // the tree is now dirty: a second release stops at once
    let (ok, out) = release(&clone.dir, &["patch"]);
    assert!(!ok);
    assert!(out.contains("uncommitted changes"), "{out}");
}

#[test]
fn bad_input_stops_the_release_before_any_file_changes() {
    let clone = clone("refused");
    let manifest = read(&clone.dir, "Cargo.toml");
    let current = version_of(&manifest);

    let (ok, out) = release(&clone.dir, &[&current]);
    assert!(!ok);
    assert!(out.contains("is not above"), "{out}");
    let (ok, out) = release(&clone.dir, &["0.0.1"]);
    assert!(!ok && out.contains("is not above"), "{out}");
    let (ok, out) = release(&clone.dir, &["sideways"]);
    assert!(!ok && out.contains("not patch, minor, major"), "{out}");

    std::fs::write(
        clone.dir.join("CHANGELOG.md"),
        "# Changelog\n\n## 0.1.0\n\n- first\n",
    )
    .unwrap();
    git(
        &clone.dir,
        &["commit", "--quiet", "-am", "a changelog without Unreleased"],
    );
    let (ok, out) = release(&clone.dir, &["patch"]);
    assert!(!ok);
    assert!(out.contains("no `## Unreleased` section"), "{out}");
    assert_eq!(
        read(&clone.dir, "Cargo.toml"),
        manifest,
        "nothing was bumped"
    );
}

#[test]
fn only_a_dry_run_may_start_from_a_dirty_tree() {
    let clone = clone("dirty");
    std::fs::write(clone.dir.join("scratch.txt"), "work in progress").unwrap();
    let (ok, out) = release(&clone.dir, &["--dry-run", "--allow-dirty", "patch"]);
    assert!(ok, "{out}");
    let (ok, out) = release(&clone.dir, &["--allow-dirty", "patch"]);
    assert!(!ok && out.contains("dry runs only"), "{out}");
    let (ok, out) = release(&clone.dir, &["--dry-run", "patch"]);
    assert!(!ok && out.contains("uncommitted changes"), "{out}");
}
