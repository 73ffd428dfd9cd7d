pub mod activity_feed;
pub mod activity_item;
pub mod crud_form;
