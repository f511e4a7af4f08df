//! The `--config` TOML file: reading it, and Go's `%v` rendering of its values for error
//! messages and for the options read as text. Keys are the table's config keys; unknown
//! keys are ignored, as go-options does.

use toml::Value;

use crate::error::Error;

/// A parsed config file; an empty one stands for "no `--config`".
#[derive(Debug, Default)]
pub struct ConfigFile {
    table: toml::Table,
}

impl ConfigFile {
    pub fn load(path: &str) -> Result<ConfigFile, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadConfigFile {
            path: path.to_string(),
            source,
        })?;
        ConfigFile::parse(&text).map_err(|source| Error::ParseConfigFile {
            path: path.to_string(),
            source,
        })
    }

    pub fn parse(text: &str) -> Result<ConfigFile, toml::de::Error> {
        Ok(ConfigFile {
            table: text.parse::<toml::Table>()?,
        })
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.table.get(key)
    }
}

/// A TOML value as Go's `fmt.Sprintf("%v", v)` shows it: strings bare, arrays `[a b]`.
pub fn go_display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Datetime(d) => d.to_string(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_display).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Table(t) => {
            let parts: Vec<String> = t
                .iter()
                .map(|(k, v)| format!("{k}:{}", go_display(v)))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_display_matches_percent_v() {
        let f =
            ConfigFile::parse("a = [\"x\", 1, 1.5, true]\nb = 1.0\nc = { d = 2 }").expect("TOML");
        assert_eq!(
            f.get("a").map(go_display).as_deref(),
            Some("[x 1 1.5 true]")
        );
        assert_eq!(f.get("b").map(go_display).as_deref(), Some("1"));
        assert_eq!(f.get("c").map(go_display).as_deref(), Some("map[d:2]"));
        assert!(f.get("nope").is_none());
    }

    #[test]
    fn unreadable_or_unparsable() {
        let err = ConfigFile::load("/nonexistent/x.toml").expect_err("missing");
        assert!(err
            .to_string()
            .starts_with("failed to load config file /nonexistent/x.toml - "));
        assert!(ConfigFile::parse("this is = = not toml").is_err());
    }
}
