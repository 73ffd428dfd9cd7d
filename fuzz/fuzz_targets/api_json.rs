//! The API's JSON request bodies: deserializing and validating never panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::{CreateActivity, CreateMessage, CreateReply};

fuzz_target!(|body: &[u8]| {
    if let Ok(message) = serde_json::from_slice::<CreateMessage>(body) {
        let _ = message.validate();
    }
    if let Ok(activity) = serde_json::from_slice::<CreateActivity>(body) {
        let _ = activity.validate();
    }
    if let Ok(reply) = serde_json::from_slice::<CreateReply>(body) {
        let _ = reply.validate();
    }
});
