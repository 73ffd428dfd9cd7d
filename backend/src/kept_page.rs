//! The home page kept between requests, as the JSON sent for it. Each request reads the
//! database's feed version (`Repository::feed_version`) and sends the kept bytes while the
//! version is the one the page was read at and none of its cruds has expired; otherwise it
//! reads the page again. The version moves with every write a feed shows, committed with it,
//! so a kept page is never older than the version read before it, whichever instance wrote.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use shared::{Activity, Page};
use time::OffsetDateTime;

use crate::sync::lock;

/// One page: the newest read replaces whatever was kept, so it holds one page's bytes at most.
#[derive(Default)]
pub struct KeptPage {
    kept: Mutex<Option<Arc<PageJson>>>,
}

/// A page as sent, and what it is current for.
pub struct PageJson {
    version: i64,
    /// When its first crud expires, and the page stops being the one a request would read.
    until: Option<OffsetDateTime>,
    pub body: Bytes,
    pub length: usize,
}

impl PageJson {
    /// `page` as read after the feed version was `version`.
    pub fn new(version: i64, page: &Page<Activity>) -> serde_json::Result<Self> {
        Ok(PageJson {
            version,
            until: page.items.iter().map(|activity| activity.expires_at).min(),
            body: Bytes::from(serde_json::to_vec(page)?),
            length: page.items.len(),
        })
    }
}

impl KeptPage {
    /// The page kept at `version`, if it is still the page at `now`.
    pub fn current(&self, version: i64, now: OffsetDateTime) -> Option<Arc<PageJson>> {
        let kept = lock(&self.kept).clone()?;
        let current = kept.version == version && kept.until.is_none_or(|until| now < until);
        current.then_some(kept)
    }

    pub fn keep(&self, page: Arc<PageJson>) {
        *lock(&self.kept) = Some(page);
    }
}

#[cfg(test)]
mod tests {
    use shared::Reply;
    use time::Duration;
    use uuid::Uuid;

    use super::*;

    fn activity(expires_at: OffsetDateTime) -> Activity {
        Activity {
            uuid: Uuid::new_v4(),
            display_name: "Worf".to_owned(),
            handle: "worf".to_owned(),
            message: "Today is a good day".to_owned(),
            created_at: expires_at - Duration::days(1),
            expires_at,
            likes_count: 0,
            replies_count: 0,
            reposts_count: 0,
            replies: Vec::<Reply>::new(),
        }
    }

    fn kept(version: i64, items: Vec<Activity>) -> KeptPage {
        let kept = KeptPage::default();
        let page = Page { items, next: None };
        kept.keep(Arc::new(PageJson::new(version, &page).unwrap()));
        kept
    }

    #[test]
    fn a_kept_page_is_sent_as_the_json_of_its_page() {
        let now = OffsetDateTime::now_utc();
        let page = Page {
            items: vec![activity(now + Duration::hours(1))],
            next: Some("cursor".to_owned()),
        };
        let json = PageJson::new(7, &page).unwrap();
        let sent: Page<Activity> = serde_json::from_slice(&json.body).unwrap();
        assert_eq!(sent, page);
        assert_eq!(json.length, 1);
    }

    #[test]
    fn a_kept_page_is_current_only_at_the_version_it_was_read_at() {
        let now = OffsetDateTime::now_utc();
        let kept = kept(7, vec![activity(now + Duration::hours(1))]);
        assert!(kept.current(7, now).is_some());
        assert!(kept.current(8, now).is_none());
        assert!(kept.current(6, now).is_none());
    }

    #[test]
    fn a_kept_page_stops_being_current_when_its_first_crud_expires() {
        let now = OffsetDateTime::now_utc();
        let soonest = now + Duration::minutes(1);
        let kept = kept(
            7,
            vec![activity(now + Duration::hours(1)), activity(soonest)],
        );
        assert!(
            kept.current(7, soonest - Duration::microseconds(1))
                .is_some()
        );
        assert!(kept.current(7, soonest).is_none());
    }

    #[test]
    fn an_empty_page_is_current_until_the_version_moves() {
        let kept = kept(3, Vec::new());
        let much_later = OffsetDateTime::now_utc() + Duration::days(3650);
        assert!(kept.current(3, much_later).is_some());
    }

    #[test]
    fn the_page_read_last_replaces_the_one_kept() {
        let now = OffsetDateTime::now_utc();
        let kept = kept(7, vec![activity(now + Duration::hours(1))]);
        kept.keep(Arc::new(
            PageJson::new(
                8,
                &Page {
                    items: Vec::new(),
                    next: None,
                },
            )
            .unwrap(),
        ));
        assert!(kept.current(7, now).is_none());
        assert_eq!(kept.current(8, now).unwrap().length, 0);
    }
}
