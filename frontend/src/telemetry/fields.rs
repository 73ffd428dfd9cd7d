//! A JavaScript object's properties by name, for the objects web-sys has no bindings for (an
//! error of any kind, web-vitals' reports, `navigator.userAgentData`): anything missing, or
//! asked of something that is not an object, reads as `undefined`.

use wasm_bindgen::JsValue;

pub fn field(object: &JsValue, name: &str) -> JsValue {
    if !object.is_object() {
        return JsValue::UNDEFINED;
    }
    js_sys::Reflect::get(object, &name.into()).unwrap_or(JsValue::UNDEFINED)
}

/// The property as text, empty when it is not a string.
pub fn text(object: &JsValue, name: &str) -> String {
    field(object, name).as_string().unwrap_or_default()
}
