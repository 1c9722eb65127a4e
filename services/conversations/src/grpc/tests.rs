//! The service against real storage: SQLite and, when configured, PostgreSQL.

use assistd_common::testing::{request, test_databases};
use assistd_proto::pb;
use assistd_proto::pb::conversation_service_server::ConversationService;

use super::ConversationsService;
use crate::store::Store;

async fn service(url: &str) -> ConversationsService {
    let db = assistd_common::db::connect(url).await.unwrap();
    assistd_migrations::up(&db, assistd_migrations::Service::Conversations).await.unwrap();
    ConversationsService::new(crate::Conversations::new(Store::new(db)))
}

fn user(text: &str) -> pb::Item {
    let item: assistd_common::items::Item =
        serde_json::from_value(serde_json::json!({"role": "user", "content": text})).unwrap();
    item.into()
}

fn search_call() -> pb::Item {
    let item: assistd_common::items::Item = serde_json::from_value(serde_json::json!({
        "type": "file_search_call", "status": "completed", "queries": ["q"],
        "results": [{"file_id": "file-1", "filename": "a.txt", "score": 0.9, "text": "chunk"}]
    }))
    .unwrap();
    item.into()
}

fn meta(pairs: &[(&str, &str)]) -> Option<pb::Metadata> {
    Some(pb::Metadata { entries: pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect() })
}

#[tokio::test]
async fn conversations_and_items() {
    for db in test_databases().await {
        let svc = service(&db.url).await;
        let c = svc
            .create_conversation(request(
                "p1",
                pb::CreateConversationRequest { metadata: meta(&[("topic", "demo")]), items: vec![user("hello")] },
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(c.id.starts_with("conv_"), "{}", db.backend);
        let cid = c.id.clone();

        let added = svc
            .create_items(request(
                "p1",
                pb::CreateItemsRequest {
                    conversation_id: cid.clone(),
                    items: vec![user("two"), search_call()],
                    include: vec![],
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(added.data.len(), 2);
        assert!(added.data[0].id.starts_with("msg_") && added.data[1].id.starts_with("fs_"));
        let Some(pb::item::Item::FileSearchCall(fs)) = &added.data[1].item else { panic!() };
        assert!(!fs.has_results, "results are hidden unless included");

        let list = |include: Vec<String>, order: pb::Order| pb::ListItemsRequest {
            conversation_id: cid.clone(),
            page: Some(pb::ListParams { order: order as i32, ..Default::default() }),
            include,
        };
        let all = svc.list_items(request("p1", list(vec![], pb::Order::Asc))).await.unwrap().into_inner();
        assert_eq!(all.data.len(), 3);
        assert_eq!(all.first_id.as_deref(), Some(all.data[0].id.as_str()));
        let with = svc
            .list_items(request("p1", list(vec!["file_search_call.results".into()], pb::Order::Desc)))
            .await
            .unwrap()
            .into_inner();
        let Some(pb::item::Item::FileSearchCall(fs)) = &with.data[0].item else { panic!("{:?}", with.data[0]) };
        assert!(fs.has_results && fs.results[0].text == "chunk");
        let err = svc.list_items(request("p1", list(vec!["bogus".into()], pb::Order::Asc))).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);

        // a bad item in a batch adds nothing
        let bad: pb::Item = pb::Item {
            id: String::new(),
            item: Some(pb::item::Item::Message(pb::MessageItem {
                role: "robot".into(),
                status: String::new(),
                content: vec![],
            })),
        };
        let err = svc
            .create_items(request(
                "p1",
                pb::CreateItemsRequest { conversation_id: cid.clone(), items: vec![user("ok"), bad], include: vec![] },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        let n = svc.list_items(request("p1", list(vec![], pb::Order::Asc))).await.unwrap().into_inner().data.len();
        assert_eq!(n, 3);

        // tenancy: another project sees a missing conversation everywhere
        let other = |id: &str| pb::GetConversationRequest { conversation_id: id.into() };
        assert_eq!(svc.get_conversation(request("p2", other(&cid))).await.unwrap_err().code(), tonic::Code::NotFound);
        let err = svc.list_items(request("p2", list(vec![], pb::Order::Asc))).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        let err = svc
            .get_item(request(
                "p2",
                pb::GetItemRequest { conversation_id: cid.clone(), item_id: all.data[0].id.clone(), include: vec![] },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);

        // update replaces metadata; limits hold
        let u = svc
            .update_conversation(request(
                "p1",
                pb::UpdateConversationRequest { conversation_id: cid.clone(), metadata: meta(&[("k", "v")]) },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(u.metadata.unwrap().entries.len(), 1);
        let long = "x".repeat(600);
        let err = svc
            .update_conversation(request(
                "p1",
                pb::UpdateConversationRequest { conversation_id: cid.clone(), metadata: meta(&[("k", &long)]) },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);

        // item get and delete
        let first = all.data[0].id.clone();
        let got = svc
            .get_item(request(
                "p1",
                pb::GetItemRequest { conversation_id: cid.clone(), item_id: first.clone(), include: vec![] },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.id, first);
        let conv = svc
            .delete_item(request("p1", pb::DeleteItemRequest { conversation_id: cid.clone(), item_id: first.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(conv.id, cid);
        let err = svc
            .delete_item(request("p1", pb::DeleteItemRequest { conversation_id: cid.clone(), item_id: first }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);

        svc.delete_conversation(request("p1", pb::DeleteConversationRequest { conversation_id: cid.clone() }))
            .await
            .unwrap();
        assert_eq!(svc.get_conversation(request("p1", other(&cid))).await.unwrap_err().code(), tonic::Code::NotFound);
    }
}
