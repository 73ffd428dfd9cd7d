use serde::{Deserialize, Serialize};

/// The most items one page of any list holds.
pub const PAGE_SIZE: usize = 50;

/// One page of a list, newest first. `next` is the cursor for the page after it (pass it as
/// `?before=`), absent on the last page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}
