//! JSON the browser has parsed (`JSON.parse`), read into Rust types by serde.
//!
//! A deserializer of our own rather than serde-wasm-bindgen's: the app only needs to know that
//! an answer did not fit its type, and an error type that carries no message lets the
//! optimizer drop every message serde could write (and the float formatting they need), a large
//! share of the bundle everyone downloads.

use std::fmt::{self, Display};

use serde::de::value::StringDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, Expected, Unexpected, Visitor};
use wasm_bindgen::{JsCast as _, JsValue};

/// The value did not have the shape its type asks for.
#[derive(Debug, PartialEq)]
pub struct Invalid;

impl Display for Invalid {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a value of another shape")
    }
}

impl std::error::Error for Invalid {}

// Each of serde's ways to build an error is overridden, so none formats what went wrong.
impl de::Error for Invalid {
    fn custom<T: Display>(_: T) -> Self {
        Invalid
    }
    fn invalid_type(_: Unexpected<'_>, _: &dyn Expected) -> Self {
        Invalid
    }
    fn invalid_value(_: Unexpected<'_>, _: &dyn Expected) -> Self {
        Invalid
    }
    fn invalid_length(_: usize, _: &dyn Expected) -> Self {
        Invalid
    }
    fn unknown_variant(_: &str, _: &'static [&'static str]) -> Self {
        Invalid
    }
    fn unknown_field(_: &str, _: &'static [&'static str]) -> Self {
        Invalid
    }
    fn missing_field(_: &'static str) -> Self {
        Invalid
    }
    fn duplicate_field(_: &'static str) -> Self {
        Invalid
    }
}

/// Reads `value` as a `T`.
pub fn from_value<T: DeserializeOwned>(value: JsValue) -> Result<T, Invalid> {
    T::deserialize(Value(value))
}

/// Integers in JSON are JavaScript numbers: exact up to 2^53.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

struct Value(JsValue);

impl<'de> de::Deserializer<'de> for Value {
    type Error = Invalid;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
        let value = self.0;
        if value.is_null() || value.is_undefined() {
            return visitor.visit_unit();
        }
        if let Some(boolean) = value.as_bool() {
            return visitor.visit_bool(boolean);
        }
        if let Some(number) = value.as_f64() {
            // Whole numbers as integers, which every integer type and f64 accept.
            return if number.fract() != 0.0 || number.abs() > MAX_SAFE_INTEGER {
                visitor.visit_f64(number)
            } else if number < 0.0 {
                visitor.visit_i64(number as i64)
            } else {
                visitor.visit_u64(number as u64)
            };
        }
        if let Some(text) = value.as_string() {
            return visitor.visit_string(text);
        }
        if let Some(array) = value.dyn_ref::<js_sys::Array>() {
            return visitor.visit_seq(Seq {
                items: array.clone(),
                next: 0,
            });
        }
        if let Some(object) = value.dyn_ref::<js_sys::Object>() {
            return visitor.visit_map(Map {
                entries: js_sys::Object::entries(object),
                next: 0,
                value: None,
            });
        }
        Err(Invalid)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
        if self.0.is_null() || self.0.is_undefined() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Invalid> {
        visitor.visit_newtype_struct(self)
    }

    /// A unit variant is its name; any other variant an object with the name as its one key.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Invalid> {
        if let Some(name) = self.0.as_string() {
            return visitor.visit_enum(StringDeserializer::<Invalid>::new(name));
        }
        let object = self.0.dyn_ref::<js_sys::Object>().ok_or(Invalid)?;
        let entries = js_sys::Object::entries(object);
        if entries.length() != 1 {
            return Err(Invalid);
        }
        let entry: js_sys::Array = entries.get(0).unchecked_into();
        visitor.visit_enum(Variant {
            name: entry.get(0).as_string().ok_or(Invalid)?,
            value: entry.get(1),
        })
    }

    /// A field nobody reads is not walked: however large or deep, it costs nothing.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

struct Seq {
    items: js_sys::Array,
    next: u32,
}

impl<'de> de::SeqAccess<'de> for Seq {
    type Error = Invalid;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Invalid> {
        if self.next >= self.items.length() {
            return Ok(None);
        }
        let item = self.items.get(self.next);
        self.next += 1;
        seed.deserialize(Value(item)).map(Some)
    }
}

/// An object's own properties, as `[key, value]` pairs.
struct Map {
    entries: js_sys::Array,
    next: u32,
    value: Option<JsValue>,
}

impl<'de> de::MapAccess<'de> for Map {
    type Error = Invalid;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Invalid> {
        if self.next >= self.entries.length() {
            return Ok(None);
        }
        let entry: js_sys::Array = self.entries.get(self.next).unchecked_into();
        self.next += 1;
        self.value = Some(entry.get(1));
        let key = entry.get(0).as_string().ok_or(Invalid)?;
        seed.deserialize(StringDeserializer::<Invalid>::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Invalid> {
        seed.deserialize(Value(self.value.take().ok_or(Invalid)?))
    }
}

struct Variant {
    name: String,
    value: JsValue,
}

impl<'de> de::EnumAccess<'de> for Variant {
    type Error = Invalid;
    type Variant = Value;

    fn variant_seed<N: DeserializeSeed<'de>>(self, seed: N) -> Result<(N::Value, Value), Invalid> {
        let name = seed.deserialize(StringDeserializer::<Invalid>::new(self.name))?;
        Ok((name, Value(self.value)))
    }
}

impl<'de> de::VariantAccess<'de> for Value {
    type Error = Invalid;

    fn unit_variant(self) -> Result<(), Invalid> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Invalid> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Invalid> {
        de::Deserializer::deserialize_any(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Invalid> {
        de::Deserializer::deserialize_any(self, visitor)
    }
}

// They need a browser: `cargo test --target wasm32-unknown-unknown` runs them in Chromium.
#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use serde::Deserialize;
    use shared::traces::SpanStatus;
    use shared::{Activity, ErrorBody, ErrorCode};
    use wasm_bindgen_test::wasm_bindgen_test;

    fn parsed<T: DeserializeOwned>(json: &str) -> Result<T, Invalid> {
        from_value(js_sys::JSON::parse(json).unwrap())
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Sample {
        count: u32,
        ratio: f64,
        offset: i64,
        name: String,
        tags: Vec<String>,
        missing: Option<u8>,
        null: Option<u8>,
        nested: Option<Box<Sample>>,
    }

    #[wasm_bindgen_test]
    fn numbers_strings_lists_options_and_nested_objects_are_read() {
        let sample: Sample = parsed(
            r#"{"count": 3, "ratio": 0.5, "offset": -7, "name": "n", "tags": ["a", "b"],
                "null": null, "nested": {"count": 1, "ratio": 2, "offset": 0, "name": "",
                "tags": [], "extra": {"ignored": true}}}"#,
        )
        .unwrap();
        assert_eq!((sample.count, sample.ratio, sample.offset), (3, 0.5, -7));
        assert_eq!(sample.tags, ["a", "b"]);
        assert_eq!((sample.missing, sample.null), (None, None));
        assert_eq!(sample.nested.unwrap().ratio, 2.0);
    }

    #[wasm_bindgen_test]
    fn a_value_of_another_shape_is_invalid() {
        assert_eq!(parsed::<u8>("300"), Err(Invalid));
        assert_eq!(parsed::<u32>("1.5"), Err(Invalid));
        assert_eq!(parsed::<String>("[]"), Err(Invalid));
        assert!(parsed::<Sample>(r#"{"count": 1}"#).is_err());
    }

    #[wasm_bindgen_test]
    fn the_apis_bodies_are_read_with_their_enums_and_times() {
        let errors: ErrorBody = parsed(r#"{"errors": ["message_blank"]}"#).unwrap();
        assert_eq!(errors.errors, [ErrorCode::MessageBlank]);
        assert_eq!(parsed::<SpanStatus>(r#""error""#), Ok(SpanStatus::Error));
        let activity: Result<Activity, _> = parsed(
            r#"{"uuid": "68f126b0-1ceb-4a33-88be-d90fa7109eee", "display_name": "Andrew Brown",
                "handle": "andrewbrown", "message": "Cloud is very fun!",
                "created_at": "2026-11-28T10:00:00Z", "expires_at": "2026-12-08T10:00:00Z",
                "likes_count": 5, "replies_count": 1, "reposts_count": 0, "replies": []}"#,
        );
        assert!(activity.is_ok(), "{activity:?}");
    }
}
