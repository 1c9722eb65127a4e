//! The service against real storage: SQLite and, when configured, PostgreSQL.

use assistd_common::testing::{request, test_databases};
use assistd_proto::pb;
use assistd_proto::pb::thread_service_server::ThreadService;

use super::ThreadsService;
use crate::store::Store;

async fn service(url: &str) -> ThreadsService {
    let db = assistd_common::db::connect(url).await.unwrap();
    assistd_migrations::up(&db, assistd_migrations::Service::Threads).await.unwrap();
    ThreadsService::new(crate::Threads::new(Store::new(db)))
}

fn user(text: &str) -> pb::NewMessage {
    pb::NewMessage {
        role: pb::MessageRole::User as i32,
        content: vec![pb::MessageContent {
            part: Some(pb::message_content::Part::Text(pb::TextContent { value: text.into(), annotations: vec![] })),
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn thread_lifecycle_and_cascade() {
    for db in test_databases().await {
        let svc = service(&db.url).await;
        let t = svc
            .create_thread(request(
                "p",
                pb::CreateThreadRequest { messages: vec![user("a"), user("b")], ..Default::default() },
            ))
            .await
            .unwrap()
            .into_inner();
        for i in 0..3 {
            svc.create_message(request(
                "p",
                pb::CreateMessageRequest { thread_id: t.id.clone(), message: Some(user(&format!("m{i}"))) },
            ))
            .await
            .unwrap();
        }
        let list = |order: pb::Order, limit| pb::ListMessagesRequest {
            thread_id: t.id.clone(),
            page: Some(pb::ListParams { limit: Some(limit), order: order as i32, ..Default::default() }),
            run_id: None,
        };
        let asc = svc.list_messages(request("p", list(pb::Order::Asc, 100))).await.unwrap().into_inner();
        let texts: Vec<String> = asc
            .data
            .iter()
            .map(|m| match &m.content[0].part {
                Some(pb::message_content::Part::Text(t)) => t.value.clone(),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(texts, vec!["a", "b", "m0", "m1", "m2"], "{}", db.backend);
        let desc = svc.list_messages(request("p", list(pb::Order::Desc, 2))).await.unwrap().into_inner();
        assert!(desc.has_more);
        assert_eq!(desc.first_id.as_deref(), Some(asc.data[4].id.as_str()));

        // another project sees nothing, and cannot write into the thread
        let err = svc.list_messages(request("q", list(pb::Order::Asc, 10))).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        let err = svc
            .create_message(request(
                "q",
                pb::CreateMessageRequest { thread_id: t.id.clone(), message: Some(user("x")) },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);

        // an invalid initial message creates nothing
        let mut bad = user("ok");
        bad.content.clear();
        let err = svc
            .create_thread(request(
                "p",
                pb::CreateThreadRequest { messages: vec![user("fine"), bad], ..Default::default() },
            ))
            .await
            .unwrap_err();
        assert_eq!(assistd_common::error::error_detail(&err).unwrap().param.as_deref(), Some("messages[1].content"));

        svc.delete_thread(request("p", pb::DeleteThreadRequest { thread_id: t.id.clone() })).await.unwrap();
        let err = svc
            .get_message(request(
                "p",
                pb::GetMessageRequest { thread_id: t.id.clone(), message_id: asc.data[0].id.clone() },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        // the messages are gone from storage too, not only hidden
        let conn = assistd_common::db::connect(&db.url).await.unwrap();
        use sea_orm::{EntityTrait, PaginatorTrait};
        assert_eq!(crate::store::entity::message::Entity::find().count(&conn).await.unwrap(), 0);
    }
}

#[tokio::test]
async fn modify_uses_the_field_mask() {
    for db in test_databases().await {
        let svc = service(&db.url).await;
        let md = |k: &str| Some(pb::Metadata { entries: [(k.to_owned(), "v".to_owned())].into() });
        let t = svc
            .create_thread(request("p", pb::CreateThreadRequest { metadata: md("a"), ..Default::default() }))
            .await
            .unwrap()
            .into_inner();
        // empty mask: nothing changes
        let same = svc
            .modify_thread(request(
                "p",
                pb::ModifyThreadRequest {
                    thread_id: t.id.clone(),
                    metadata: md("b"),
                    update_mask: None,
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(same.metadata, md("a").unwrap().into());
        let changed = svc
            .modify_thread(request(
                "p",
                pb::ModifyThreadRequest {
                    thread_id: t.id.clone(),
                    metadata: md("b"),
                    update_mask: Some(prost_types::FieldMask { paths: vec!["metadata".into()] }),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(changed.metadata, md("b").unwrap().into());
        let got =
            svc.get_thread(request("p", pb::GetThreadRequest { thread_id: t.id.clone() })).await.unwrap().into_inner();
        assert_eq!(got, changed, "{}", db.backend);
    }
}
