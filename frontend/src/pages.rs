pub mod activity;
pub mod conversation;
pub mod home;
pub mod messages;
pub mod notifications;
pub mod search;
pub mod trace_view;
pub mod user;
