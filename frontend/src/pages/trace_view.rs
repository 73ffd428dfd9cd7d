//! The local trace view, for developers: `/traces` lists the recent traces the backend keeps
//! (`list`), `/traces/{trace_id}` draws one as a waterfall (`waterfall`). Both share the view's
//! stylesheet and service colours (`style`) and its way of writing durations
//! (`format`). Builds without the `trace-view` feature compile these pages but never reach them.

mod format;
pub mod list;
mod style;
pub mod waterfall;
