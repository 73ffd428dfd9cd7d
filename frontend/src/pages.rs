pub mod home;
pub mod notifications;
pub mod user;
