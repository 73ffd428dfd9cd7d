pub mod activity_feed;
pub mod activity_item;
pub mod compose_form;
pub mod crud_form;
pub mod query_view;
pub mod trace_id;
