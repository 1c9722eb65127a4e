//! The service against real storage: SQLite and, when configured, PostgreSQL.

use assistd_common::testing::{request, test_databases};
use assistd_proto::pb;
use assistd_proto::pb::assistant_service_server::AssistantService;

use super::AssistantsService;
use crate::store::Store;

async fn service(url: &str) -> AssistantsService {
    let db = assistd_common::db::connect(url).await.unwrap();
    assistd_migrations::up(&db, assistd_migrations::Service::Assistants).await.unwrap();
    AssistantsService::new(crate::Assistants::new(Store::new(db)))
}

fn fields(model: &str) -> pb::AssistantFields {
    pb::AssistantFields { model: Some(model.into()), ..Default::default() }
}

#[tokio::test]
async fn crud_tenancy_and_pages() {
    for db in test_databases().await {
        let svc = service(&db.url).await;
        let mut ids = vec![];
        for i in 0..5 {
            let a = svc
                .create_assistant(request(
                    "p1",
                    pb::CreateAssistantRequest { assistant: Some(fields(&format!("m{i}"))) },
                ))
                .await
                .unwrap()
                .into_inner();
            ids.push(a.id);
        }
        svc.create_assistant(request("p2", pb::CreateAssistantRequest { assistant: Some(fields("other")) }))
            .await
            .unwrap();

        let page = |limit, order: pb::Order, after: Option<&str>, before: Option<&str>| pb::ListAssistantsRequest {
            page: Some(pb::ListParams {
                limit: Some(limit),
                order: order as i32,
                after: after.map(Into::into),
                before: before.map(Into::into),
            }),
        };
        let ids_of = |r: pb::ListAssistantsResponse| r.data.into_iter().map(|a| a.id).collect::<Vec<_>>();
        let all = svc.list_assistants(request("p1", page(100, pb::Order::Asc, None, None))).await.unwrap().into_inner();
        assert_eq!(ids_of(all), ids, "{}", db.backend);
        let r = svc
            .list_assistants(request("p1", page(2, pb::Order::Desc, Some(&ids[4]), None)))
            .await
            .unwrap()
            .into_inner();
        assert!(r.has_more);
        assert_eq!(ids_of(r), vec![ids[3].clone(), ids[2].clone()]);
        let r = svc
            .list_assistants(request("p1", page(2, pb::Order::Desc, None, Some(&ids[0]))))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(ids_of(r), vec![ids[2].clone(), ids[1].clone()]);
        let r = svc
            .list_assistants(request("p1", page(10, pb::Order::Asc, Some(&ids[1]), Some(&ids[4]))))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(ids_of(r), vec![ids[2].clone(), ids[3].clone()]);

        let err = svc
            .get_assistant(request("p2", pb::GetAssistantRequest { assistant_id: ids[0].clone() }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        let err = svc
            .delete_assistant(request("p2", pb::DeleteAssistantRequest { assistant_id: ids[0].clone() }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        let err = svc
            .modify_assistant(request(
                "p2",
                pb::ModifyAssistantRequest {
                    assistant_id: ids[0].clone(),
                    assistant: Some(fields("x")),
                    update_mask: Some(prost_types::FieldMask { paths: vec!["model".into()] }),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);

        // a modify that fails validation writes nothing
        let bad = pb::AssistantFields { name: Some("x".repeat(300)), ..fields("changed") };
        let err = svc
            .modify_assistant(request(
                "p1",
                pb::ModifyAssistantRequest {
                    assistant_id: ids[0].clone(),
                    assistant: Some(bad),
                    update_mask: Some(prost_types::FieldMask { paths: vec!["model".into(), "name".into()] }),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        let a = svc
            .get_assistant(request("p1", pb::GetAssistantRequest { assistant_id: ids[0].clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(a.model, "m0");

        svc.delete_assistant(request("p1", pb::DeleteAssistantRequest { assistant_id: ids[0].clone() })).await.unwrap();
        let all = svc.list_assistants(request("p1", page(100, pb::Order::Asc, None, None))).await.unwrap().into_inner();
        assert_eq!(all.data.len(), 4);
    }
}
