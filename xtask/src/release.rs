//! `cargo xtask release [--dry-run [--allow-dirty]] [--skip-ci] <patch|minor|major|X.Y.Z>`: makes the
//! crates and the binary ready to publish, and prints the `cargo publish` commands (it
//! never publishes by itself).
//!
//! In order, stopping at the first problem before any file changes:
//! 1. the git tree is clean (a dry run with `--allow-dirty` may check a tree with
//!    uncommitted changes, as `cargo xtask ci` does), the new version is above the current one, and CHANGELOG.md
//!    has a non-empty `## Unreleased` section;
//! 2. no dependency needs a newer Rust than the workspace's `rust-version`;
//! 3. `cargo xtask ci` passes (`--skip-ci` is for CI itself, which has just run it);
//! 4. every publishable crate packages, each built from its `.crate` alone (cargo
//!    verifies the packages together, the workspace's own crates from the packages
//!    made before them, never from their paths);
//! 5. `llm-rotate-cli` installs from its `.crate` (the workspace's crates patched to
//!    their unpacked packages) into a temporary root, and its `llm-rotate --version`
//!    prints the version;
//! 6. without `--dry-run`: the workspace version and every inter-crate dependency
//!    version are bumped together, and CHANGELOG's `## Unreleased` entries move under
//!    `## X.Y.Z - YYYY-MM-DD` (a fresh empty `## Unreleased` above).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run_in;

/// The publishable crates, in the order they are published (each after its
/// dependencies).
pub const CRATES: [&str; 7] = [
    "rotate-core",
    "rotate-providers",
    "rotate-store",
    "rotate-google",
    "rotate-testkit",
    "llm-rotate",
    "llm-rotate-cli",
];

/// A semantic version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u64, pub u64, pub u64);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl Version {
    /// `X.Y.Z` (no pre-release or build part).
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('.').map(|p| p.parse::<u64>().ok());
        let version = Self(parts.next()??, parts.next()??, parts.next()??);
        parts.next().is_none().then_some(version)
    }

    /// The version a release of `level` (`patch`, `minor`, `major` or `X.Y.Z`) makes.
    pub fn next(self, level: &str) -> Result<Self, String> {
        let next = match level {
            "patch" => Self(self.0, self.1, self.2 + 1),
            "minor" => Self(self.0, self.1 + 1, 0),
            "major" => Self(self.0 + 1, 0, 0),
            other => Self::parse(other).ok_or_else(|| {
                format!("`{other}` is not patch, minor, major or a version X.Y.Z")
            })?,
        };
        if next <= self {
            return Err(format!(
                "the new version {next} is not above the current {self}"
            ));
        }
        Ok(next)
    }
}

/// The workspace version: `version = "…"` of `[workspace.package]`.
pub fn workspace_version(manifest: &str) -> Result<Version, String> {
    let section = manifest
        .split("\n[")
        .find(|s| s.starts_with("workspace.package]"))
        .ok_or("Cargo.toml has no [workspace.package] section")?;
    let line = section
        .lines()
        .find(|l| l.trim_start().starts_with("version"))
        .ok_or("[workspace.package] has no version")?;
    let value = line.split('"').nth(1).unwrap_or("");
    Version::parse(value)
        .ok_or_else(|| format!("[workspace.package] version `{value}` is not X.Y.Z"))
}

/// The workspace manifest with `from` replaced by `to` as the workspace version and as
/// the version of every dependency on one of [`CRATES`].
pub fn bump_manifest(manifest: &str, from: Version, to: Version) -> Result<String, String> {
    let (old, new) = (format!("\"{from}\""), format!("\"{to}\""));
    let mut out = String::with_capacity(manifest.len());
    let mut section = String::new();
    let mut bumped = 0;
    for line in manifest.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            section = trimmed.trim_end().to_owned();
        }
        let ours = CRATES
            .iter()
            .any(|c| trimmed.starts_with(&format!("{c} =")) && trimmed.contains("path ="));
        let version_line = section == "[workspace.package]" && trimmed.starts_with("version");
        if (ours && section == "[workspace.dependencies]") || version_line {
            if !line.contains(&old) {
                return Err(format!(
                    "Cargo.toml: `{}` does not name version {from}",
                    line.trim()
                ));
            }
            out.push_str(&line.replacen(&old, &new, 1));
            bumped += 1;
        } else {
            out.push_str(line);
        }
    }
    // every crate but the binary's is some other crate's dependency
    let dependencies = CRATES.len() - 1;
    if bumped != dependencies + 1 {
        return Err(format!(
            "Cargo.toml: expected the workspace version and {dependencies} crate versions, found {bumped}"
        ));
    }
    Ok(out)
}

/// The changelog with its `## Unreleased` entries under `## {version} - {date}`, a new
/// empty `## Unreleased` above them. A changelog without that section, or with nothing
/// in it, is refused.
pub fn release_changelog(changelog: &str, version: Version, date: &str) -> Result<String, String> {
    let heading = "## Unreleased";
    let start = changelog
        .lines()
        .position(|l| l.trim_end() == heading)
        .ok_or("CHANGELOG.md has no `## Unreleased` section")?;
    let lines: Vec<&str> = changelog.lines().collect();
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.starts_with("## "))
        .map_or(lines.len(), |p| start + 1 + p);
    if lines[start + 1..end].iter().all(|l| l.trim().is_empty()) {
        return Err("CHANGELOG.md's `## Unreleased` section is empty: say what changed".to_owned());
    }
    if lines
        .iter()
        .any(|l| l.starts_with(&format!("## {version} ")))
    {
        return Err(format!("CHANGELOG.md already has a section for {version}"));
    }
    let mut out: Vec<String> = lines[..start].iter().map(|l| (*l).to_owned()).collect();
    out.push(heading.to_owned());
    out.push(String::new());
    out.push(format!("## {version} - {date}"));
    out.extend(lines[start + 1..].iter().map(|l| (*l).to_owned()));
    let mut text = out.join("\n");
    text.push('\n');
    Ok(text)
}

/// Today's date in UTC, `YYYY-MM-DD`.
#[allow(clippy::disallowed_methods)] // the release date is the wall clock's, by design
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    // days since 1970-01-01 to a civil date (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `X.Y.Z` (or `X.Y`) as a comparable triple.
fn rust_version(text: &str) -> Option<Version> {
    let mut parts = text.split('.').map(|p| p.parse::<u64>().ok());
    Some(Version(
        parts.next()??,
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
    ))
}

/// Every package of `cargo metadata`'s output whose `rust_version` is above `limit`,
/// named by its manifest's directory (`aws-sigv4-1.6.6`). A package's
/// `manifest_path` comes just before its `rust_version` in cargo's output, after its
/// dependencies and targets.
pub fn newer_rust_needed(metadata: &str, limit: Version) -> Vec<String> {
    const MANIFEST: &str = "\"manifest_path\":\"";
    const RUST: &str = "\"rust_version\":\"";
    let mut found = Vec::new();
    let mut rest = metadata;
    while let Some(at) = rest.find(MANIFEST) {
        rest = &rest[at + MANIFEST.len()..];
        let manifest = rest.split('"').next().unwrap_or("");
        let name = Path::new(manifest)
            .parent()
            .and_then(Path::file_name)
            .map_or_else(|| manifest.to_owned(), |n| n.to_string_lossy().into_owned());
        let next = rest.find(MANIFEST).unwrap_or(rest.len());
        let Some(r) = rest[..next].find(RUST) else {
            continue;
        };
        let value = rest[r + RUST.len()..].split('"').next().unwrap_or("");
        if rust_version(value).is_some_and(|v| v > limit) {
            found.push(format!("{name} needs Rust {value}"));
        }
    }
    found.sort();
    found.dedup();
    found
}

/// Runs `program args` in `dir`; its standard output, or why it failed.
fn output(dir: &Path, program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What the command line asked.
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    /// Change no file.
    pub dry_run: bool,
    /// Do not run `cargo xtask ci` (CI has just run it).
    pub skip_ci: bool,
    /// Check and bump only: no packaging or install (for the tool's own test).
    pub skip_package: bool,
    /// Let a dry run check a tree with uncommitted changes (what `cargo xtask ci` does).
    pub allow_dirty: bool,
    /// `patch`, `minor`, `major` or `X.Y.Z`.
    pub level: String,
}

impl Options {
    /// Parses `args` (after `release`).
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Options {
            dry_run: false,
            skip_ci: false,
            skip_package: false,
            allow_dirty: false,
            level: String::new(),
        };
        for arg in args {
            match arg.as_str() {
                "--dry-run" => options.dry_run = true,
                "--skip-ci" => options.skip_ci = true,
                "--skip-package" => options.skip_package = true,
                "--allow-dirty" => options.allow_dirty = true,
                flag if flag.starts_with("--") => return Err(format!("unknown option `{flag}`")),
                level if options.level.is_empty() => options.level = level.to_owned(),
                extra => return Err(format!("unexpected argument `{extra}`")),
            }
        }
        if options.allow_dirty && !options.dry_run {
            return Err(
                "--allow-dirty is for dry runs only: a release starts from a clean tree".to_owned(),
            );
        }
        if options.level.is_empty() {
            return Err(
                "usage: cargo xtask release [--dry-run] [--skip-ci] <patch|minor|major|X.Y.Z>"
                    .to_owned(),
            );
        }
        Ok(options)
    }
}

/// The release, in the workspace at `root`.
pub fn release(root: &Path, options: &Options) -> Result<(), String> {
    let status = output(root, "git", &["status", "--porcelain"])?;
    if !status.trim().is_empty() && !options.allow_dirty {
        let first: Vec<&str> = status.lines().take(5).collect();
        return Err(format!(
            "the tree has uncommitted changes; commit or stash them first:\n{}",
            first.join("\n")
        ));
    }
    let manifest_path = root.join("Cargo.toml");
    let changelog_path = root.join("CHANGELOG.md");
    let manifest = std::fs::read_to_string(&manifest_path)
        .map_err(|e| format!("cannot read Cargo.toml: {e}"))?;
    let changelog = std::fs::read_to_string(&changelog_path)
        .map_err(|e| format!("cannot read CHANGELOG.md: {e}"))?;
    let current = workspace_version(&manifest)?;
    let next = current.next(&options.level)?;
    let bumped = bump_manifest(&manifest, current, next)?;
    let released = release_changelog(&changelog, next, &today())?;
    eprintln!("release {current} -> {next}");

    check_rust_version(root, &manifest)?;
    if !options.skip_ci {
        run_in(root, "cargo", &["xtask", "ci"], &[])?;
    }
    if !options.skip_package {
        package(root, current, options.allow_dirty)?;
        install(root, current)?;
    }
    if options.dry_run {
        eprintln!("dry run: no file changed; a release would bump {current} to {next}");
    } else {
        std::fs::write(&manifest_path, bumped)
            .map_err(|e| format!("cannot write Cargo.toml: {e}"))?;
        std::fs::write(&changelog_path, released)
            .map_err(|e| format!("cannot write CHANGELOG.md: {e}"))?;
        // the lock file names the workspace's own versions too
        run_in(root, "cargo", &["update", "--workspace", "--offline"], &[])?;
        eprintln!("Cargo.toml, Cargo.lock and CHANGELOG.md now say {next}");
    }
    println!("# then, in order:");
    if !options.dry_run {
        println!("git commit -am \"Release {next}\" && git tag v{next}");
    }
    for name in CRATES {
        println!("cargo publish -p {name}");
    }
    Ok(())
}

/// Refuses a dependency that needs a newer Rust than the workspace says.
fn check_rust_version(root: &Path, manifest: &str) -> Result<(), String> {
    let declared = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("rust-version"))
        .and_then(|l| l.split('"').nth(1))
        .and_then(rust_version)
        .ok_or("[workspace.package] has no rust-version")?;
    let host = output(root, "rustc", &["-vV"])?
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .ok_or("`rustc -vV` names no host")?;
    let metadata = output(
        root,
        "cargo",
        &[
            "metadata",
            "--format-version",
            "1",
            "--all-features",
            "--locked",
            "--filter-platform",
            &host,
        ],
    )?;
    let newer = newer_rust_needed(&metadata, declared);
    if !newer.is_empty() {
        return Err(format!(
            "rust-version {declared} is below what dependencies need: {}",
            newer.join(", ")
        ));
    }
    Ok(())
}

/// Forgets what cargo unpacked from the temporary registry of an earlier packaging of
/// this version (`$CARGO_HOME/registry/src/-<hash>/{crate}-{version}`): cargo keeps
/// those sources and would verify a package against the stale copy of a dependency.
/// Registries with a host (crates.io's `index.crates.io-…`) are never touched.
fn forget_unpacked(version: Version) -> Result<(), String> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    let Some(sources) = home.map(|h| h.join("registry").join("src")) else {
        return Ok(());
    };
    let Ok(registries) = std::fs::read_dir(&sources) else {
        return Ok(());
    };
    for registry in registries.flatten() {
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for name in CRATES {
            let stale = registry.path().join(format!("{name}-{version}"));
            if stale.is_dir() {
                std::fs::remove_dir_all(&stale)
                    .map_err(|e| format!("cannot remove {}: {e}", stale.display()))?;
            }
        }
    }
    Ok(())
}

/// Packages every publishable crate; cargo builds each from its `.crate`.
fn package(root: &Path, version: Version, allow_dirty: bool) -> Result<(), String> {
    forget_previous(root, version)?;
    let target = check_dir(root).to_string_lossy().into_owned();
    let mut args = vec!["package", "--locked", "--target-dir", &target];
    if allow_dirty {
        args.push("--allow-dirty");
    }
    for name in CRATES {
        args.extend(["-p", name]);
    }
    run_in(root, "cargo", &args, &[])?;
    for name in CRATES {
        let file = package_dir(root).join(format!("{name}-{version}.crate"));
        if !file.is_file() {
            return Err(format!("no package {} was made", file.display()));
        }
    }
    Ok(())
}

/// The target directory packages are made and verified in (its dependencies' builds
/// kept from run to run).
fn check_dir(root: &Path) -> PathBuf {
    root.join("target").join("release-check")
}

fn package_dir(root: &Path) -> PathBuf {
    check_dir(root).join("package")
}

/// Forgets an earlier run's packages of the workspace's crates and everything made
/// from them: cargo takes a registry crate of a known version as unchanged, so the
/// packages, cargo's unpacked copies of them and their builds would be taken for the
/// new ones.
fn forget_previous(root: &Path, version: Version) -> Result<(), String> {
    let remove = |path: &Path| -> Result<(), String> {
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(path)
        } else {
            std::fs::remove_file(path)
        };
        removed.map_err(|e| format!("cannot remove {}: {e}", path.display()))
    };
    let packages = package_dir(root);
    if packages.exists() {
        remove(&packages)?;
    }
    let ours = |file: &str| {
        CRATES.iter().any(|name| {
            file.starts_with(&format!("{name}-"))
                || file.starts_with(&format!("lib{}-", name.replace('-', "_")))
                || file.starts_with(&format!("{}-", name.replace('-', "_")))
        })
    };
    for dir in [".fingerprint", "deps", "build"] {
        let Ok(entries) = std::fs::read_dir(check_dir(root).join("debug").join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            if ours(&entry.file_name().to_string_lossy()) {
                remove(&entry.path())?;
            }
        }
    }
    forget_unpacked(version)
}

/// Installs `llm-rotate-cli` from its `.crate` into a temporary root (every crate of
/// the workspace taken from its unpacked package) and checks `llm-rotate --version`.
fn install(root: &Path, version: Version) -> Result<(), String> {
    let scratch = std::env::temp_dir().join(format!("llm-rotate-release-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let sources = scratch.join("src");
    std::fs::create_dir_all(&sources)
        .map_err(|e| format!("cannot make {}: {e}", sources.display()))?;
    let mut patches = Vec::new();
    for name in CRATES {
        let file = package_dir(root).join(format!("{name}-{version}.crate"));
        let file = file.to_string_lossy().into_owned();
        let into = sources.to_string_lossy().into_owned();
        output(root, "tar", &["-xzf", &file, "-C", &into])?;
        let dir = sources.join(format!("{name}-{version}"));
        patches.push(format!(
            "patch.crates-io.{name}.path=\"{}\"",
            dir.to_string_lossy()
        ));
    }
    let cli = sources.join(format!("llm-rotate-cli-{version}"));
    let install_root = scratch.join("root");
    let (cli, install_root) = (
        cli.to_string_lossy().into_owned(),
        install_root.to_string_lossy().into_owned(),
    );
    let mut args = vec![
        "install",
        "--locked",
        "--path",
        &cli,
        "--root",
        &install_root,
    ];
    for patch in &patches {
        args.extend(["--config", patch.as_str()]);
    }
    let target = root.join("target").join("release-install");
    let target = target.to_string_lossy().into_owned();
    args.extend(["--target-dir", &target]);
    run_in(root, "cargo", &args, &[])?;
    let binary = scratch.join("root").join("bin").join("llm-rotate");
    let printed = output(root, &binary.to_string_lossy(), &["--version"])?;
    let _ = std::fs::remove_dir_all(&scratch);
    if !printed.contains(&version.to_string()) {
        return Err(format!(
            "`llm-rotate --version` printed `{}`, not {version}",
            printed.trim()
        ));
    }
    eprintln!("installed from the package: {}", printed.trim());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_step_and_refuse_going_back() {
        let v = Version(0, 4, 2);
        assert_eq!(v.next("patch"), Ok(Version(0, 4, 3)));
        assert_eq!(v.next("minor"), Ok(Version(0, 5, 0)));
        assert_eq!(v.next("major"), Ok(Version(1, 0, 0)));
        assert_eq!(v.next("2.0.0"), Ok(Version(2, 0, 0)));
        assert!(v.next("0.4.2").unwrap_err().contains("not above"));
        assert!(v.next("0.3.9").unwrap_err().contains("not above"));
        assert!(v.next("huge").unwrap_err().contains("not patch"));
        assert_eq!(Version::parse("1.2"), None);
        assert_eq!(Version::parse("1.2.3.4"), None);
    }

    #[test]
    fn the_changelog_moves_its_unreleased_entries() {
        let log =
            "# Changelog\n\n## Unreleased\n\n- a change\n\n## 0.1.0 - 2026-01-01\n\n- first\n";
        let out = release_changelog(log, Version(0, 2, 0), "2026-12-07").unwrap();
        assert_eq!(out, "# Changelog\n\n## Unreleased\n\n## 0.2.0 - 2026-12-07\n\n- a change\n\n## 0.1.0 - 2026-01-01\n\n- first\n");
        assert!(release_changelog("# Changelog\n", Version(0, 2, 0), "d")
            .unwrap_err()
            .contains("no `## Unreleased`"));
        assert!(
            release_changelog("## Unreleased\n\n## 0.1.0\n", Version(0, 2, 0), "d")
                .unwrap_err()
                .contains("empty")
        );
        assert!(release_changelog(log, Version(0, 1, 0), "d")
            .unwrap_err()
            .contains("already"));
    }

    #[test]
    fn rust_versions_above_the_declared_one_are_named() {
        let metadata = r#"{"packages":[{"name":"a","dependencies":[{"name":"x"}],"manifest_path":"/r/a-1.0.0/Cargo.toml","rust_version":"1.70"},{"name":"b","manifest_path":"/r/b-2.1.0/Cargo.toml","rust_version":"1.96.0"},{"name":"c","manifest_path":"/r/c-0.1.0/Cargo.toml","rust_version":null}]}"#;
        assert_eq!(
            newer_rust_needed(metadata, Version(1, 94, 1)),
            ["b-2.1.0 needs Rust 1.96.0"]
        );
        assert!(newer_rust_needed(metadata, Version(1, 96, 0)).is_empty());
    }

    #[test]
    fn today_is_a_civil_date() {
        let today = today();
        assert_eq!(today.len(), 10);
        assert!(today.starts_with("20"), "{today}");
    }
}
