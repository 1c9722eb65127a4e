//! The store on SQLite and, when configured, PostgreSQL.

use assistd_common::Project;
use assistd_common::items::{ContentPart, Item, Message};
use assistd_common::page::{Order, PageRequest};
use assistd_common::testing::test_databases;

use super::Store;
use crate::domain::Conversation;

fn message(text: &str) -> Item {
    let mut it = Item::Message(Message {
        role: "user".into(),
        content: vec![ContentPart::InputText { text: text.into() }],
        ..Default::default()
    });
    it.assign_id();
    it
}

fn texts(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|it| match it {
            Item::Message(m) => match &m.content[0] {
                ContentPart::InputText { text } => text.clone(),
                other => format!("{other:?}"),
            },
            other => other.kind().to_owned(),
        })
        .collect()
}

/// Appends racing on one conversation from many tasks each get their own positions:
/// every item is kept once, and each batch stays together in its order.
#[tokio::test]
async fn concurrent_appends_keep_every_item_in_batches() {
    for db in test_databases().await {
        let conn = assistd_common::db::connect(&db.url).await.unwrap();
        assistd_migrations::up(&conn, assistd_migrations::Service::Conversations).await.unwrap();
        let store = Store::new(conn);
        let p = Project("p1".into());
        let c = Conversation { id: "conv_1".into(), created_at: 1, metadata: Default::default() };
        store.insert(&p, &c, &[message("first")]).await.unwrap();

        let tasks: Vec<_> = (0..8)
            .map(|t| {
                let store = store.clone();
                let p = p.clone();
                tokio::spawn(async move {
                    let batch = [message(&format!("{t}a")), message(&format!("{t}b"))];
                    store.append(&p, "conv_1", 2, &batch).await.unwrap()
                })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap(), "{}", db.backend);
        }
        let all = texts(&store.all_items(&p, "conv_1").await.unwrap());
        assert_eq!(all.len(), 17, "{}: {all:?}", db.backend);
        assert_eq!(all[0], "first");
        for pair in all[1..].chunks(2) {
            assert_eq!(pair[0].trim_end_matches('a'), pair[1].trim_end_matches('b'), "{}: {all:?}", db.backend);
        }

        // another project sees nothing, and cannot append
        assert!(store.all_items(&Project("p2".into()), "conv_1").await.unwrap().is_empty());
        assert!(!store.append(&Project("p2".into()), "conv_1", 3, &[message("x")]).await.unwrap());

        // pages in position order, both ways, with an item-id cursor
        let page = |order, after: Option<String>| PageRequest { limit: 5, order, after, before: None };
        let first = store.list_items(&p, "conv_1", &page(Order::Asc, None)).await.unwrap().unwrap();
        assert!(first.has_more);
        assert_eq!(texts(&first.data), all[..5]);
        let next = store
            .list_items(&p, "conv_1", &page(Order::Asc, Some(first.data[4].id().to_owned())))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(texts(&next.data), all[5..10]);
        let desc = store.list_items(&p, "conv_1", &page(Order::Desc, None)).await.unwrap().unwrap();
        let mut tail = all[12..].to_vec();
        tail.reverse();
        assert_eq!(texts(&desc.data), tail);
        assert!(store.list_items(&p, "conv_1", &page(Order::Asc, Some("msg_nope".into()))).await.unwrap().is_none());

        // delete takes the items too
        assert!(store.delete(&p, "conv_1").await.unwrap());
        assert!(store.all_items(&p, "conv_1").await.unwrap().is_empty());
        assert!(!store.delete(&p, "conv_1").await.unwrap());
    }
}
