//! Cruddur's week-2 mock data, held in memory and changed by what users post. Lost on restart
//! until the database arrives.

use std::sync::RwLock;

use async_trait::async_trait;
use shared::{ACTING_USER_HANDLE, Activity, Message, MessageGroup, Reply};
use time::{Duration, OffsetDateTime};
use uuid::{Uuid, uuid};

use super::{Repository, RepositoryError, RepositoryResult};
use crate::sync;

struct User {
    handle: &'static str,
    display_name: &'static str,
}

const USERS: [User; 4] = [
    User {
        handle: ACTING_USER_HANDLE,
        display_name: "Andrew Brown",
    },
    User {
        handle: "worf",
        display_name: "Worf",
    },
    User {
        handle: "garek",
        display_name: "Garek",
    },
    User {
        handle: "coco",
        display_name: "Coco",
    },
];

fn user(handle: &str) -> RepositoryResult<&'static User> {
    USERS
        .iter()
        .find(|user| user.handle.eq_ignore_ascii_case(handle))
        .ok_or(RepositoryError::UserNotFound)
}

struct StoredActivity {
    uuid: Uuid,
    handle: &'static str,
    message: String,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    likes_count: u32,
    /// Handles the activity is a notification for.
    notifies: Vec<&'static str>,
}

struct StoredReply {
    uuid: Uuid,
    activity_uuid: Uuid,
    handle: &'static str,
    message: String,
    created_at: OffsetDateTime,
}

struct Conversation {
    uuid: Uuid,
    members: [&'static str; 2],
}

struct StoredMessage {
    uuid: Uuid,
    conversation_uuid: Uuid,
    sender: &'static str,
    message: String,
    created_at: OffsetDateTime,
}

#[derive(Default)]
struct Store {
    activities: Vec<StoredActivity>,
    replies: Vec<StoredReply>,
    conversations: Vec<Conversation>,
    messages: Vec<StoredMessage>,
}

pub struct InMemoryRepository {
    store: RwLock<Store>,
}

impl InMemoryRepository {
    /// The seeds' data, dated relative to `now` as the seeds date theirs.
    pub fn seeded(now: OffsetDateTime) -> Self {
        let cloud_is_fun = uuid!("68f126b0-1ceb-4a33-88be-d90fa7109eee");
        let activity = |uuid, handle, message: &str, age, lifetime, likes_count| StoredActivity {
            uuid,
            handle,
            message: message.to_owned(),
            created_at: now - age,
            expires_at: now + lifetime,
            likes_count,
            notifies: Vec::new(),
        };
        let mut unicorn = activity(
            uuid!("a1b3d2c4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"),
            "coco",
            "I am white unicorn",
            Duration::days(2),
            Duration::days(5),
            5,
        );
        unicorn.notifies.push(ACTING_USER_HANDLE);
        let worf_conversation = uuid!("24b95582-9e7b-4e0a-9ad1-639773ab7552");
        let garek_conversation = uuid!("417c360e-c4e6-4fce-873b-d2d71469b4ac");
        let message = |uuid, conversation_uuid, sender, message: &str, age| StoredMessage {
            uuid,
            conversation_uuid,
            sender,
            message: message.to_owned(),
            created_at: now - age,
        };
        let store = Store {
            activities: vec![
                activity(
                    cloud_is_fun,
                    ACTING_USER_HANDLE,
                    "Cloud is very fun!",
                    Duration::days(2),
                    Duration::days(5),
                    5,
                ),
                activity(
                    uuid!("66e12864-8c26-4c3a-9658-95a10f8fea67"),
                    "worf",
                    "I am out of prune juice",
                    Duration::days(7),
                    Duration::days(9),
                    0,
                ),
                activity(
                    uuid!("248959df-3079-4947-b847-9e0892d1bab4"),
                    "garek",
                    "My dear doctor, I am just simple tailor",
                    Duration::hours(1),
                    Duration::hours(12),
                    0,
                ),
                unicorn,
            ],
            replies: vec![StoredReply {
                uuid: uuid!("26e12864-1c26-5c3a-9658-97a10f8fea67"),
                activity_uuid: cloud_is_fun,
                handle: "worf",
                message: "This post has no honor!".to_owned(),
                created_at: now - Duration::days(2) + Duration::hours(1),
            }],
            conversations: vec![
                Conversation {
                    uuid: worf_conversation,
                    members: [ACTING_USER_HANDLE, "worf"],
                },
                Conversation {
                    uuid: garek_conversation,
                    members: [ACTING_USER_HANDLE, "garek"],
                },
            ],
            messages: vec![
                message(
                    uuid!("4e81c06a-db0f-4281-b4cc-98208537772a"),
                    worf_conversation,
                    ACTING_USER_HANDLE,
                    "Cloud is fun!",
                    Duration::minutes(30),
                ),
                message(
                    uuid!("66e12864-8c26-4c3a-9658-95a10f8fea68"),
                    worf_conversation,
                    ACTING_USER_HANDLE,
                    "This platform is great!",
                    Duration::minutes(29),
                ),
                message(
                    uuid!("0f1d8e2a-7c3b-4d5e-9f60-718293a4b5c6"),
                    garek_conversation,
                    "garek",
                    "Lies are the foundation of any good conversation, doctor.",
                    Duration::hours(3),
                ),
            ],
        };
        InMemoryRepository {
            store: RwLock::new(store),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        // A panic while holding the lock cannot leave the store half-written: every write is
        // a single push, so the data behind a poisoned lock is still whole.
        sync::read(&self.store)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Store> {
        sync::write(&self.store)
    }
}

impl Store {
    fn activities_where(
        &self,
        now: OffsetDateTime,
        keep: impl Fn(&StoredActivity) -> bool,
    ) -> Vec<Activity> {
        let mut found: Vec<&StoredActivity> = self
            .activities
            .iter()
            .filter(|activity| activity.expires_at > now && keep(activity))
            .collect();
        found.sort_by_key(|activity| std::cmp::Reverse(activity.created_at));
        found
            .into_iter()
            .map(|activity| self.activity_view(activity))
            .collect()
    }

    fn activity_view(&self, activity: &StoredActivity) -> Activity {
        let replies: Vec<Reply> = self
            .replies
            .iter()
            .filter(|reply| reply.activity_uuid == activity.uuid)
            .map(reply_view)
            .collect();
        Activity {
            uuid: activity.uuid,
            display_name: display_name(activity.handle),
            handle: activity.handle.to_owned(),
            message: activity.message.clone(),
            created_at: activity.created_at,
            expires_at: activity.expires_at,
            likes_count: activity.likes_count,
            replies_count: u32::try_from(replies.len()).unwrap_or(u32::MAX),
            reposts_count: 0,
            replies,
        }
    }

    fn conversation_between(&self, handle: &str, other: &str) -> Option<&Conversation> {
        self.conversations.iter().find(|conversation| {
            conversation.members.contains(&handle) && conversation.members.contains(&other)
        })
    }
}

fn display_name(handle: &str) -> String {
    user(handle).map_or_else(|_| handle.to_owned(), |user| user.display_name.to_owned())
}

fn reply_view(reply: &StoredReply) -> Reply {
    Reply {
        uuid: reply.uuid,
        reply_to_activity_uuid: reply.activity_uuid,
        display_name: display_name(reply.handle),
        handle: reply.handle.to_owned(),
        message: reply.message.clone(),
        created_at: reply.created_at,
        likes_count: 0,
        replies_count: 0,
        reposts_count: 0,
    }
}

fn message_view(message: &StoredMessage) -> Message {
    Message {
        uuid: message.uuid,
        display_name: display_name(message.sender),
        handle: message.sender.to_owned(),
        message: message.message.clone(),
        created_at: message.created_at,
    }
}

#[async_trait]
impl Repository for InMemoryRepository {
    async fn home_activities(&self, now: OffsetDateTime) -> RepositoryResult<Vec<Activity>> {
        Ok(self.read().activities_where(now, |_| true))
    }

    async fn notification_activities(
        &self,
        handle: &str,
        now: OffsetDateTime,
    ) -> RepositoryResult<Vec<Activity>> {
        let handle = user(handle)?.handle;
        Ok(self
            .read()
            .activities_where(now, |activity| activity.notifies.contains(&handle)))
    }

    async fn user_activities(
        &self,
        handle: &str,
        now: OffsetDateTime,
    ) -> RepositoryResult<Vec<Activity>> {
        let handle = user(handle)?.handle;
        Ok(self
            .read()
            .activities_where(now, |activity| activity.handle == handle))
    }

    async fn search_activities(
        &self,
        term: &str,
        now: OffsetDateTime,
    ) -> RepositoryResult<Vec<Activity>> {
        let term = term.to_lowercase();
        Ok(self.read().activities_where(now, |activity| {
            activity.message.to_lowercase().contains(&term)
        }))
    }

    async fn activity(&self, uuid: Uuid, now: OffsetDateTime) -> RepositoryResult<Activity> {
        let store = self.read();
        store
            .activities
            .iter()
            .find(|activity| activity.uuid == uuid && activity.expires_at > now)
            .map(|activity| store.activity_view(activity))
            .ok_or(RepositoryError::ActivityNotFound)
    }

    async fn create_activity(
        &self,
        handle: &str,
        message: &str,
        created_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> RepositoryResult<Activity> {
        let handle = user(handle)?.handle;
        let activity = StoredActivity {
            uuid: Uuid::new_v4(),
            handle,
            message: message.to_owned(),
            created_at,
            expires_at,
            likes_count: 0,
            notifies: Vec::new(),
        };
        let mut store = self.write();
        let view = store.activity_view(&activity);
        store.activities.push(activity);
        Ok(view)
    }

    async fn create_reply(
        &self,
        activity_uuid: Uuid,
        handle: &str,
        message: &str,
        now: OffsetDateTime,
    ) -> RepositoryResult<Reply> {
        let handle = user(handle)?.handle;
        let mut store = self.write();
        let replied_to = store
            .activities
            .iter()
            .any(|activity| activity.uuid == activity_uuid && activity.expires_at > now);
        if !replied_to {
            return Err(RepositoryError::ActivityNotFound);
        }
        let reply = StoredReply {
            uuid: Uuid::new_v4(),
            activity_uuid,
            handle,
            message: message.to_owned(),
            created_at: now,
        };
        let view = reply_view(&reply);
        store.replies.push(reply);
        Ok(view)
    }

    async fn message_groups(&self, handle: &str) -> RepositoryResult<Vec<MessageGroup>> {
        let handle = user(handle)?.handle;
        let store = self.read();
        let mut groups: Vec<MessageGroup> = store
            .conversations
            .iter()
            .filter(|conversation| conversation.members.contains(&handle))
            .filter_map(|conversation| {
                let latest = store
                    .messages
                    .iter()
                    .filter(|message| message.conversation_uuid == conversation.uuid)
                    .max_by_key(|message| message.created_at)?;
                let other = conversation
                    .members
                    .iter()
                    .find(|member| **member != handle)?;
                Some(MessageGroup {
                    uuid: conversation.uuid,
                    display_name: display_name(other),
                    handle: (*other).to_owned(),
                    message: latest.message.clone(),
                    created_at: latest.created_at,
                })
            })
            .collect();
        groups.sort_by_key(|group| std::cmp::Reverse(group.created_at));
        Ok(groups)
    }

    async fn messages(&self, handle: &str, other_handle: &str) -> RepositoryResult<Vec<Message>> {
        let (handle, other) = (user(handle)?.handle, user(other_handle)?.handle);
        let store = self.read();
        let Some(conversation) = store.conversation_between(handle, other) else {
            return Ok(Vec::new());
        };
        let mut messages: Vec<&StoredMessage> = store
            .messages
            .iter()
            .filter(|message| message.conversation_uuid == conversation.uuid)
            .collect();
        messages.sort_by_key(|message| message.created_at);
        Ok(messages.into_iter().map(message_view).collect())
    }

    async fn create_message(
        &self,
        sender_handle: &str,
        receiver_handle: &str,
        message: &str,
        now: OffsetDateTime,
    ) -> RepositoryResult<Message> {
        let (sender, receiver) = (user(sender_handle)?.handle, user(receiver_handle)?.handle);
        let mut store = self.write();
        let conversation_uuid = match store.conversation_between(sender, receiver) {
            Some(conversation) => conversation.uuid,
            None => {
                let uuid = Uuid::new_v4();
                store.conversations.push(Conversation {
                    uuid,
                    members: [sender, receiver],
                });
                uuid
            }
        };
        let stored = StoredMessage {
            uuid: Uuid::new_v4(),
            conversation_uuid,
            sender,
            message: message.to_owned(),
            created_at: now,
        };
        let view = message_view(&stored);
        store.messages.push(stored);
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    #[tokio::test]
    async fn expired_activities_leave_the_feeds() {
        let start = now();
        let repository = InMemoryRepository::seeded(start);
        let later = start + Duration::hours(13);
        let feed = repository.home_activities(later).await.unwrap();
        assert!(feed.iter().all(|activity| activity.handle != "garek"));
        let garek = uuid!("248959df-3079-4947-b847-9e0892d1bab4");
        assert_eq!(
            repository.activity(garek, later).await,
            Err(RepositoryError::ActivityNotFound)
        );
    }

    #[tokio::test]
    async fn a_first_message_starts_a_conversation() {
        let repository = InMemoryRepository::seeded(now());
        repository
            .create_message(ACTING_USER_HANDLE, "coco", "Hello unicorn", now())
            .await
            .unwrap();
        let groups = repository.message_groups(ACTING_USER_HANDLE).await.unwrap();
        assert_eq!(groups[0].handle, "coco");
        assert_eq!(groups[0].message, "Hello unicorn");
        let from_coco = repository
            .messages("coco", ACTING_USER_HANDLE)
            .await
            .unwrap();
        assert_eq!(from_coco.len(), 1);
    }
}
