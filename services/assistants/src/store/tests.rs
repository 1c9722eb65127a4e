//! The store on SQLite and, when configured, PostgreSQL.

use assistd_common::Project;
use assistd_common::testing::test_databases;
use assistd_common::tools::{FileSearchSettings, ResponseFormat, Tool};
use assistd_migrations::MigratorTrait;
use sea_orm::ConnectionTrait;

use super::Store;

/// An assistant written by the first schema (one column per field) reads the same
/// after `body` took the fields over.
#[tokio::test]
async fn the_body_migration_keeps_every_field() {
    for db in test_databases().await {
        let conn = assistd_common::db::connect(&db.url).await.unwrap();
        assistd_migrations::assistants::Migrator::up(&conn, Some(1)).await.unwrap();
        conn.execute_unprepared(
            r#"INSERT INTO assistants (id, project_id, created_at, name, description, model, instructions, tools,
                tool_resources, metadata, temperature, top_p, response_format, reasoning_effort)
               VALUES ('asst_1', 'p1', 7, 'n', NULL, 'm', 'be brief', '[{"type":"file_search","file_search":{"max_num_results":3,"ranking_options":null}}]',
                '{"code_interpreter":null,"file_search":{"vector_store_ids":["vs_1"]}}', '{"k":"v"}', 0.5, NULL,
                '{"type":"auto"}', 'low')"#,
        )
        .await
        .unwrap();
        assistd_migrations::up(&conn, assistd_migrations::Service::Assistants).await.unwrap();

        let a = Store::new(conn).get(&Project("p1".into()), "asst_1").await.unwrap().expect(db.backend);
        assert_eq!((a.id.as_str(), a.created_at, a.model.as_str()), ("asst_1", 7, "m"), "{}", db.backend);
        assert_eq!((a.name.as_deref(), a.description.as_deref()), (Some("n"), None));
        assert_eq!(a.instructions.as_deref(), Some("be brief"));
        let search = FileSearchSettings { max_num_results: Some(3), ranking_options: None };
        assert_eq!(a.tools, vec![Tool::FileSearch { file_search: search }]);
        assert_eq!(a.tool_resources.unwrap().file_search.unwrap().vector_store_ids, ["vs_1"]);
        assert_eq!(a.metadata.get("k").map(String::as_str), Some("v"));
        assert_eq!((a.temperature, a.top_p), (Some(0.5), None));
        assert_eq!(a.response_format, Some(ResponseFormat::Auto));
        assert_eq!(a.reasoning_effort.as_deref(), Some("low"));
    }
}
