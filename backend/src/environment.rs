//! Where settings come from: the variables (the process's environment, or a test's own
//! values), the one error a bad value makes, and the readers every area's settings share.
//! A leaf: each area's `settings.rs` reads its own variables with these, and nothing here
//! knows an area.

#[derive(Debug, thiserror::Error)]
pub enum ConfigurationError {
    #[error("{name} must be {expected}, got {value:?}")]
    Invalid {
        name: &'static str,
        expected: &'static str,
        value: String,
    },
}

/// Where the variables come from: the environment, or a test's own values.
pub struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl<'a> Env<'a> {
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Env(lookup)
    }

    /// A variable that is set to something other than blanks.
    pub fn var(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|value| !value.trim().is_empty())
    }

    /// The switch `name` ([`switch`]); `default` when unset.
    pub fn switch(&self, name: &'static str, default: bool) -> Result<bool, ConfigurationError> {
        switch(name, self.var(name), default)
    }

    /// A boolean from a standard's own variables (`OTEL_SDK_DISABLED`, `AWS_XRAY_SDK_ENABLED`):
    /// `true` or `false` in any case, `default` when unset. The OpenTelemetry specification reads
    /// only `true` as true, so `1` or `on` there would mean false to every other SDK; rather
    /// than read them differently, anything but the two words fails startup with the name.
    pub fn standard_boolean(
        &self,
        name: &'static str,
        default: bool,
    ) -> Result<bool, ConfigurationError> {
        let Some(value) = self.var(name) else {
            return Ok(default);
        };
        match value.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(ConfigurationError::Invalid {
                name,
                expected: "true or false",
                value,
            }),
        }
    }

    /// The variable `name` as a positive whole number ([`positive`]); `default` when unset.
    pub fn positive(
        &self,
        name: &'static str,
        default: usize,
    ) -> Result<usize, ConfigurationError> {
        positive(name, self.var(name), default)
    }
}

/// What every switch accepts, in any case.
const SWITCH_SPELLINGS: &str = "on, off, true, false, 1 or 0";

/// A switch: `on`, `true` or `1`; `off`, `false` or `0`, in any case; `default` when unset or
/// blank. Every switch reads the same spellings, and anything else fails startup with the
/// variable's name rather than being taken for either.
pub fn switch(
    name: &'static str,
    value: Option<String>,
    default: bool,
) -> Result<bool, ConfigurationError> {
    let Some(value) = value.filter(|value| !value.trim().is_empty()) else {
        return Ok(default);
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" => Ok(false),
        _ => Err(ConfigurationError::Invalid {
            name,
            expected: SWITCH_SPELLINGS,
            value,
        }),
    }
}

/// `value` as a whole number above 0; `default` when unset.
pub fn positive(
    name: &'static str,
    value: Option<String>,
    default: usize,
) -> Result<usize, ConfigurationError> {
    match value {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|number| *number > 0)
            .ok_or(ConfigurationError::Invalid {
                name,
                expected: "a positive whole number",
                value,
            }),
    }
}

/// The first of `names` that is set, as a positive number; the variable for one signal comes
/// first and wins over the one for every signal.
pub fn first_positive<const N: usize>(
    env: &Env,
    names: [&'static str; N],
    default: usize,
) -> Result<usize, ConfigurationError> {
    match names
        .into_iter()
        .find_map(|name| Some((name, env.var(name)?)))
    {
        Some((name, value)) => positive(name, Some(value), default),
        None => Ok(default),
    }
}

/// The first of `names` that is set, as one of `choices` (named as they are written, in any
/// case); the variable for one signal comes first and wins over the one for every signal.
pub fn first_choice<T: Copy, const N: usize>(
    env: &Env,
    names: [&'static str; 2],
    choices: [T; N],
    written: impl Fn(T) -> &'static str,
    expected: &'static str,
    default: T,
) -> Result<T, ConfigurationError> {
    let Some((name, value)) = names
        .into_iter()
        .find_map(|name| Some((name, env.var(name)?)))
    else {
        return Ok(default);
    };
    let wanted = value.trim();
    choices
        .into_iter()
        .find(|choice| written(*choice).eq_ignore_ascii_case(wanted))
        .ok_or(ConfigurationError::Invalid {
            name,
            expected,
            value,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_switch_reads_on_off_true_false_1_and_0_in_any_case() {
        for on in ["on", "ON", " true ", "True", "1"] {
            assert!(
                switch("SOME_SWITCH", Some(on.into()), false).unwrap(),
                "{on}"
            );
        }
        for off in ["off", "Off", "false", " FALSE", "0"] {
            assert!(
                !switch("SOME_SWITCH", Some(off.into()), true).unwrap(),
                "{off}"
            );
        }
    }

    #[test]
    fn an_unset_or_blank_switch_takes_its_default() {
        assert!(switch("SOME_SWITCH", None, true).unwrap());
        assert!(!switch("SOME_SWITCH", None, false).unwrap());
        assert!(switch("SOME_SWITCH", Some("  ".into()), true).unwrap());
    }

    #[test]
    fn any_other_switch_value_fails_naming_the_variable_and_the_spellings() {
        for other in ["yes", "no", "enabled", "2", "onn"] {
            let error = switch("SOME_SWITCH", Some(other.into()), false)
                .unwrap_err()
                .to_string();
            assert_eq!(
                error,
                format!("SOME_SWITCH must be on, off, true, false, 1 or 0, got {other:?}")
            );
        }
    }
}
