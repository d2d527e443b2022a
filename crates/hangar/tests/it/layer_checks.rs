//! Checks of the final image's layers: `ADDITIONAL_PYTHON_DEPS` is a small layer of its own over
//! an Airflow layer that two builds with different additional requirements share, and the venv
//! is still one coherent venv when those requirements replaced a package Airflow installed.

use std::path::Path;
use std::process::Command;

use crate::image_checks::{Engine, assert_script_prints, text};

/// The additional requirements of a rebuild: another cowsay, and a downgrade of a package
/// Airflow's install brought in (within Airflow's own requirement `termcolor>=3.0.0`), so the
/// additional install removes files of the Airflow layer.
pub(crate) const REBUILD_DEPS: &str = "cowsay==6.0 termcolor==3.0.0";

/// One layer of an exported image: its name in the archive and its uncompressed size.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Layer {
    name: String,
    size: u64,
}

/// The layers of `image`, bottom first, from the engine's uncompressed export.
pub(crate) fn layers(engine: &impl Engine, image: &str, dir: &Path) -> Vec<Layer> {
    let archive = dir.join(format!("layers-{}.tar", image.replace(['/', ':'], "_")));
    engine.export(image, &archive);
    let manifest = Command::new("tar")
        .arg("-xOf")
        .arg(&archive)
        .arg("manifest.json")
        .output()
        .unwrap();
    assert!(manifest.status.success(), "{}", text(&manifest));
    // JSON is YAML: the manifest's `Layers` are the archive paths of the layer tarballs.
    let manifest: serde_yaml_ng::Value = serde_yaml_ng::from_slice(&manifest.stdout).unwrap();
    let names: Vec<String> = manifest[0]["Layers"]
        .as_sequence()
        .expect("Layers in manifest.json")
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let listing = Command::new("tar")
        .args(["--numeric-owner", "-tvf"])
        .arg(&archive)
        .output()
        .unwrap();
    assert!(listing.status.success(), "{}", text(&listing));
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    std::fs::remove_file(&archive).unwrap();
    names
        .into_iter()
        .map(|name| {
            let size = listing
                .lines()
                .find_map(|l| {
                    let fields: Vec<&str> = l.split_whitespace().collect();
                    (fields.last() == Some(&name.as_str()))
                        .then(|| fields[2].parse::<u64>().unwrap())
                })
                .unwrap_or_else(|| panic!("{name} not in the archive:\n{listing}"));
            Layer { name, size }
        })
        .collect()
}

/// `second` was built like `first` with only `ADDITIONAL_PYTHON_DEPS` changed to
/// [`REBUILD_DEPS`]: both share every layer up to and including the Airflow layer (the largest),
/// the layers only `second` has are small, and its venv holds Airflow, both additional
/// requirements and exactly one termcolor, usable by an arbitrary UID.
pub(crate) fn assert_additional_layer(engine: &impl Engine, first: &str, second: &str, dir: &Path) {
    let a = layers(engine, first, dir);
    let b = layers(engine, second, dir);
    let shared = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let largest = a
        .iter()
        .enumerate()
        .max_by_key(|(_, l)| l.size)
        .map(|(i, _)| i)
        .unwrap();
    assert!(
        largest < shared && a[largest].size > 100_000_000,
        "the Airflow layer (#{largest}, {} bytes) is not shared: {shared} shared layers\n{a:#?}\n{b:#?}",
        a[largest].size
    );
    // Only `second`'s own: the additional layer, the removals, then hangar itself (a copy of
    // the binary under test).
    let own = &b[shared..];
    let additional: u64 = own[..own.len() - 1].iter().map(|l| l.size).sum();
    assert!(
        own.len() == 3 && additional < 2_000_000,
        "{second} should add a small additional layer, the removals and hangar:\n{own:#?}"
    );
    let hangar = std::fs::metadata(env!("CARGO_BIN_EXE_hangar"))
        .unwrap()
        .len();
    let last = own[own.len() - 1].size;
    assert!(
        (hangar..hangar + 100_000).contains(&last),
        "the last layer ({last} bytes) should be hangar ({hangar} bytes):\n{own:#?}"
    );

    let script = r#"
pip list --format=freeze 2>/dev/null | grep -iE '^(apache-airflow|cowsay|termcolor)=='
echo "termcolor_dirs=$(ls "$VIRTUAL_ENV"/lib/python*/site-packages | grep -ci '^termcolor')"
if [ -e "$HOME/.hangar-removed" ]; then echo list=left; else echo list=gone; fi
"#;
    assert_script_prints(
        engine,
        second,
        script,
        &[
            "apache-airflow==3.3.2",
            "cowsay==6.0",
            "termcolor==3.0.0",
            // The package and its one dist-info.
            "termcolor_dirs=2",
            "list=gone",
        ],
    );
    let run = engine.run(
        second,
        Some("12345:0"),
        &["python", "-c", "import cowsay, termcolor, airflow"],
    );
    assert!(run.status.success(), "{}", text(&run));
}
