//! `nsqd.dat`: the topics, channels and paused flags that survive a restart, in the same
//! JSON as the reference, written atomically (temp file, fsync, rename).

use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "nsqd.dat";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelMeta {
    pub name: String,
    #[serde(default)]
    pub paused: bool,
    /// Beyond Go: the channel's own max-attempts / max-age settings, written only when
    /// set (Go nsqd v1.3.0 ignores unknown keys when it reads the file).
    #[serde(flatten)]
    pub limits: crate::deadletter::Overrides,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicMeta {
    pub name: String,
    #[serde(default)]
    pub paused: bool,
    /// `null` when the topic has no (non-ephemeral) channels, as in the reference.
    pub channels: Option<Vec<ChannelMeta>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub topics: Option<Vec<TopicMeta>>,
    pub version: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("failed to read metadata from {path} - {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to parse metadata in {path} - {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("failed to write metadata to {path} - {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub fn path(data_path: &Path) -> PathBuf {
    data_path.join(FILE_NAME)
}

/// Load `nsqd.dat`; a missing file is a fresh start (`Ok(None)`).
pub fn load(data_path: &Path) -> Result<Option<Metadata>, MetadataError> {
    let p = path(data_path);
    let data = match fs::read(&p) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(MetadataError::Read { path: p, source }),
    };
    parse(&data)
        .map(Some)
        .map_err(|source| MetadataError::Parse { path: p, source })
}

/// The JSON of `nsqd.dat`.
pub fn parse(data: &[u8]) -> Result<Metadata, serde_json::Error> {
    serde_json::from_slice(data)
}

/// What `save` writes.
pub fn to_json(md: &Metadata) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(md)
}

/// Write `nsqd.dat` atomically, mode 0600.
pub fn save(data_path: &Path, md: &Metadata) -> Result<(), MetadataError> {
    let p = path(data_path);
    let err = |source| MetadataError::Write {
        path: p.clone(),
        source,
    };
    let data = to_json(md).map_err(|e| err(std::io::Error::other(e)))?;
    let tmp = data_path.join(format!(
        "{FILE_NAME}.{}.tmp",
        daemon::clock::unix_nanos() as u64 ^ u64::from(std::process::id())
    ));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(&data).map_err(err)?;
    f.sync_all().map_err(err)?;
    drop(f);
    fs::rename(&tmp, &p).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_matches_reference() {
        let md = Metadata {
            topics: Some(vec![
                TopicMeta {
                    name: "events".into(),
                    paused: false,
                    channels: Some(vec![ChannelMeta {
                        name: "archive".into(),
                        paused: true,
                        limits: Default::default(),
                    }]),
                },
                TopicMeta {
                    name: "empty_topic".into(),
                    paused: false,
                    channels: None,
                },
            ]),
            version: "1.3.0".into(),
        };
        assert_eq!(
            serde_json::to_string(&md).expect("json"),
            r#"{"topics":[{"name":"events","paused":false,"channels":[{"name":"archive","paused":true}]},{"name":"empty_topic","paused":false,"channels":null}],"version":"1.3.0"}"#
        );
    }

    #[test]
    fn channel_limits_are_extra_keys() {
        let cm = ChannelMeta {
            name: "c".into(),
            paused: false,
            limits: crate::deadletter::Overrides {
                max_attempts: Some(3),
                max_msg_age_ms: Some(1500),
                max_msg_age_action: crate::deadletter::AgeAction::parse("dead"),
            },
        };
        let text = serde_json::to_string(&cm).expect("json");
        assert_eq!(
            text,
            r#"{"name":"c","paused":false,"max_attempts":3,"max_msg_age_ms":1500,"max_msg_age_action":"dead"}"#
        );
        assert_eq!(
            serde_json::from_str::<ChannelMeta>(&text).expect("parse"),
            cm
        );
        let plain: ChannelMeta =
            serde_json::from_str(r#"{"name":"c","paused":true}"#).expect("parse");
        assert!(plain.limits.is_empty());
    }

    #[test]
    fn save_and_load() {
        let dir = std::env::temp_dir().join(format!("nsqd-md-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("mkdir");
        assert_eq!(load(&dir).expect("load"), None);
        let md = Metadata {
            topics: None,
            version: "1.3.0".into(),
        };
        save(&dir, &md).expect("save");
        assert_eq!(load(&dir).expect("load"), Some(md));
        fs::write(path(&dir), b"{nope").expect("write");
        assert!(matches!(load(&dir), Err(MetadataError::Parse { .. })));
        let _ = fs::remove_dir_all(&dir);
    }
}
