//! Configuration, layered: built-in defaults, then a TOML file, then `VERIFRAME_*` environment
//! variables, then command-line flags.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Fully resolved configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the database, blobs, keys and models live by default.
    pub data_dir: PathBuf,
    /// Where fetched models are cached (default `<data_dir>/models`).
    pub models_dir: Option<PathBuf>,
    /// Optional directory holding the passive anti-spoofing (MiniFASNet) ONNX files.
    pub pad_models_dir: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self { data_dir: PathBuf::from("./veriframe-data"), models_dir: None, pad_models_dir: None }
    }
}

impl Config {
    /// Loads the layers; `file` is the TOML file named on the command line, if any.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            anyhow::ensure!(file.exists(), "config file {} does not exist", file.display());
            figment = figment.merge(Toml::file(file));
        }
        figment = figment.merge(Env::prefixed("VERIFRAME_").split("__"));
        figment = figment.merge(Serialized::defaults(overrides));
        Ok(figment.extract()?)
    }

    /// Directory of the fetched model files.
    pub fn models_dir(&self) -> PathBuf {
        self.models_dir.clone().unwrap_or_else(|| self.data_dir.join("models"))
    }
}

/// Values given as command-line flags; `None` leaves the lower layers alone.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
}
