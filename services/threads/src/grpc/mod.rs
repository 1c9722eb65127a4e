//! The tonic implementation of `ThreadService`.

pub mod convert;

use assistd_common::caller::Caller;
use assistd_common::files_ref::FileRefs;
use assistd_common::ids::{MessageId, ThreadId};
use assistd_common::metadata::{self, Metadata};
use assistd_common::page::PageRequest;
use assistd_common::tools::{FileSearchResources, ToolResources};
use assistd_common::vector_stores_ref::VectorStoreRefs;
use assistd_common::{Project, ServiceError, time};
use assistd_proto::pb;
use tonic::{Request, Response, Status};

use crate::domain::{MAX_INITIAL_MESSAGES, Message, MessageStatus, Role, Thread};
use crate::store::Store;

/// The threads service.
#[derive(Clone)]
pub struct ThreadsService {
    store: Store,
    files: FileRefs,
    vector_stores: VectorStoreRefs,
}

impl ThreadsService {
    /// A service storing in `store`.
    pub fn new(store: Store) -> Self {
        Self { store, files: FileRefs::unchecked(), vector_stores: VectorStoreRefs::unavailable() }
    }

    /// Makes vector stores (the `tool_resources` helper, and the thread's store for
    /// message attachments meant for file_search) through the vector stores service.
    pub fn with_vector_stores(mut self, vector_stores: VectorStoreRefs) -> Self {
        self.vector_stores = vector_stores;
        self
    }

    /// Puts files attached for file_search into the thread's vector store, creating
    /// it (and recording it in the thread's tool resources) when it has none. True
    /// when the thread's tool resources changed.
    async fn attach_for_search(
        &self,
        caller: &Caller,
        thread: &mut Thread,
        file_ids: Vec<String>,
    ) -> Result<bool, Status> {
        if file_ids.is_empty() {
            return Ok(false);
        }
        let existing = thread
            .tool_resources
            .as_ref()
            .and_then(|r| r.file_search.as_ref())
            .and_then(|f| f.vector_store_ids.first().cloned());
        if let Some(vs) = existing {
            self.vector_stores.add_files(caller, &vs, file_ids).await?;
            return Ok(false);
        }
        let vs = self.vector_stores.thread_store(caller, &thread.id, file_ids).await?;
        let res = thread.tool_resources.get_or_insert_with(ToolResources::default);
        res.file_search = Some(FileSearchResources { vector_store_ids: vec![vs], ..Default::default() });
        Ok(true)
    }

    /// Checks that files referenced by messages and tool resources exist, through
    /// the files service.
    pub fn with_file_refs(mut self, files: FileRefs) -> Self {
        self.files = files;
        self
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> pb::thread_service_server::ThreadServiceServer<Self> {
        pb::thread_service_server::ThreadServiceServer::new(self)
    }

    async fn existing_thread(&self, project: &Project, id: &str) -> Result<(), Status> {
        if self.store.thread_exists(project, id).await? { Ok(()) } else { Err(thread_not_found(id)) }
    }
}

/// The distinct files attached for file_search.
fn search_attachments<'a>(attachments: impl Iterator<Item = &'a crate::domain::Attachment>) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for a in attachments {
        if a.tools.iter().any(|t| t == "file_search") && !ids.contains(&a.file_id) {
            ids.push(a.file_id.clone());
        }
    }
    ids
}

fn thread_not_found(id: &str) -> Status {
    ServiceError::not_found("thread", id).into()
}

fn message_not_found(id: &str) -> Status {
    ServiceError::not_found("message", id).into()
}

fn metadata_of(m: Option<pb::Metadata>) -> Metadata {
    m.map(|m| m.entries.into_iter().collect()).unwrap_or_default()
}

fn in_mask(mask: &Option<prost_types::FieldMask>, field: &str) -> bool {
    mask.as_ref().is_some_and(|m| m.paths.iter().any(|p| p == field))
}

#[tonic::async_trait]
impl pb::thread_service_server::ThreadService for ThreadsService {
    async fn create_thread(&self, request: Request<pb::CreateThreadRequest>) -> Result<Response<pb::Thread>, Status> {
        let project = Project::of(&request)?;
        let caller = Caller::of(project.clone(), request.metadata());
        let pb::CreateThreadRequest { messages, tool_resources, metadata } = request.into_inner();
        let mut tool_resources = convert::thread_tool_resources(tool_resources)?;
        let helpers = VectorStoreRefs::take_helpers(&mut tool_resources, "tool_resources")?;
        if messages.len() > MAX_INITIAL_MESSAGES {
            return Err(ServiceError::invalid(
                "messages",
                format!(
                    "Invalid 'messages': array too long. Expected an array with maximum length {MAX_INITIAL_MESSAGES}."
                ),
            )
            .into());
        }
        let metadata = metadata_of(metadata);
        metadata::validate("metadata", &metadata)?;
        let mut thread =
            Thread { id: ThreadId::generate().into_string(), created_at: time::now_secs(), tool_resources, metadata };
        let new_messages = messages
            .into_iter()
            .enumerate()
            .map(|(i, m)| convert::new_message_from_pb(m, &format!("messages[{i}].")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut refs: Vec<(String, String)> =
            thread.tool_resources.as_ref().map(|r| r.file_refs("tool_resources")).unwrap_or_default();
        for (i, m) in new_messages.iter().enumerate() {
            refs.extend(m.file_refs(&format!("messages[{i}].")));
        }
        self.files.check(&caller, &refs).await?;
        let stores = thread.tool_resources.as_ref().map(|r| r.vector_store_refs("tool_resources")).unwrap_or_default();
        self.vector_stores.check(&caller, &stores).await?;
        // Everything is checked: make the vector stores asked for.
        let made = self.vector_stores.make(&caller, helpers).await?;
        if !made.is_empty() {
            let res = thread.tool_resources.get_or_insert_with(ToolResources::default);
            res.file_search.get_or_insert_with(Default::default).vector_store_ids.extend(made);
        }
        let for_search = search_attachments(new_messages.iter().flat_map(|m| m.attachments.iter()));
        self.attach_for_search(&caller, &mut thread, for_search).await?;
        let messages: Vec<_> = new_messages
            .into_iter()
            .map(|m| m.into_message(MessageId::generate().into_string(), thread.id.clone(), thread.created_at))
            .collect();
        self.store.insert_thread(&project, &thread, &messages).await?;
        Ok(Response::new(thread.into()))
    }

    async fn get_thread(&self, request: Request<pb::GetThreadRequest>) -> Result<Response<pb::Thread>, Status> {
        let project = Project::of(&request)?;
        let id = request.into_inner().thread_id;
        let t = self.store.get_thread(&project, &id).await?.ok_or_else(|| thread_not_found(&id))?;
        Ok(Response::new(t.into()))
    }

    async fn modify_thread(&self, request: Request<pb::ModifyThreadRequest>) -> Result<Response<pb::Thread>, Status> {
        let project = Project::of(&request)?;
        let caller = Caller::of(project.clone(), request.metadata());
        let pb::ModifyThreadRequest { thread_id, tool_resources, metadata, update_mask } = request.into_inner();
        let mut t = self.store.get_thread(&project, &thread_id).await?.ok_or_else(|| thread_not_found(&thread_id))?;
        if in_mask(&update_mask, "metadata") {
            let m = metadata_of(metadata);
            metadata::validate("metadata", &m)?;
            t.metadata = m;
        }
        if in_mask(&update_mask, "tool_resources") {
            let mut tool_resources = convert::thread_tool_resources(tool_resources)?;
            let helpers = VectorStoreRefs::take_helpers(&mut tool_resources, "tool_resources")?;
            t.tool_resources = tool_resources;
            if let Some(r) = &t.tool_resources {
                self.files.check(&caller, &r.file_refs("tool_resources")).await?;
                self.vector_stores.check(&caller, &r.vector_store_refs("tool_resources")).await?;
            }
            let made = self.vector_stores.make(&caller, helpers).await?;
            if !made.is_empty() {
                let res = t.tool_resources.get_or_insert_with(ToolResources::default);
                res.file_search.get_or_insert_with(Default::default).vector_store_ids.extend(made);
            }
        }
        self.store.update_thread(&project, &t).await?;
        Ok(Response::new(t.into()))
    }

    async fn delete_thread(
        &self,
        request: Request<pb::DeleteThreadRequest>,
    ) -> Result<Response<pb::DeleteResponse>, Status> {
        let project = Project::of(&request)?;
        let id = request.into_inner().thread_id;
        if !self.store.delete_thread(&project, &id).await? {
            return Err(thread_not_found(&id));
        }
        Ok(Response::new(pb::DeleteResponse { id, deleted: true }))
    }

    async fn create_message(
        &self,
        request: Request<pb::CreateMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        let project = Project::of(&request)?;
        let caller = Caller::of(project.clone(), request.metadata());
        let pb::CreateMessageRequest { thread_id, message } = request.into_inner();
        let new = convert::new_message_from_pb(message.unwrap_or_default(), "")?;
        let mut thread =
            self.store.get_thread(&project, &thread_id).await?.ok_or_else(|| thread_not_found(&thread_id))?;
        self.files.check(&caller, &new.file_refs("")).await?;
        let for_search = search_attachments(new.attachments.iter());
        if self.attach_for_search(&caller, &mut thread, for_search).await? {
            self.store.update_thread(&project, &thread).await?;
        }
        let m = new.into_message(MessageId::generate().into_string(), thread_id, time::now_secs());
        self.store.insert_message(&project, &m).await?;
        Ok(Response::new(m.into()))
    }

    async fn list_messages(
        &self,
        request: Request<pb::ListMessagesRequest>,
    ) -> Result<Response<pb::ListMessagesResponse>, Status> {
        let project = Project::of(&request)?;
        let pb::ListMessagesRequest { thread_id, page, run_id } = request.into_inner();
        let page = PageRequest::from_pb(page, 20, 100)?.cursors_of::<MessageId>()?;
        let result =
            self.store.list_messages(&project, &thread_id, run_id.as_deref().filter(|r| !r.is_empty()), &page).await?;
        // Messages only exist in existing threads (deleting a thread deletes them in
        // the same transaction), so only an empty page needs the thread checked.
        if result.data.is_empty() {
            self.existing_thread(&project, &thread_id).await?;
        }
        let data: Vec<pb::Message> = result.data.into_iter().map(Into::into).collect();
        Ok(Response::new(pb::ListMessagesResponse {
            first_id: data.first().map(|m| m.id.clone()),
            last_id: data.last().map(|m| m.id.clone()),
            has_more: result.has_more,
            data,
        }))
    }

    async fn get_message(&self, request: Request<pb::GetMessageRequest>) -> Result<Response<pb::Message>, Status> {
        let project = Project::of(&request)?;
        let pb::GetMessageRequest { thread_id, message_id } = request.into_inner();
        self.existing_thread(&project, &thread_id).await?;
        let m = self
            .store
            .get_message(&project, &thread_id, &message_id)
            .await?
            .ok_or_else(|| message_not_found(&message_id))?;
        Ok(Response::new(m.into()))
    }

    async fn modify_message(
        &self,
        request: Request<pb::ModifyMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        let project = Project::of(&request)?;
        let pb::ModifyMessageRequest { thread_id, message_id, metadata, update_mask } = request.into_inner();
        self.existing_thread(&project, &thread_id).await?;
        let mut m = self
            .store
            .get_message(&project, &thread_id, &message_id)
            .await?
            .ok_or_else(|| message_not_found(&message_id))?;
        if in_mask(&update_mask, "metadata") {
            let md = metadata_of(metadata);
            metadata::validate("metadata", &md)?;
            m.metadata = md;
            self.store.update_message_metadata(&project, &m).await?;
        }
        Ok(Response::new(m.into()))
    }

    async fn delete_message(
        &self,
        request: Request<pb::DeleteMessageRequest>,
    ) -> Result<Response<pb::DeleteResponse>, Status> {
        let project = Project::of(&request)?;
        let pb::DeleteMessageRequest { thread_id, message_id } = request.into_inner();
        self.existing_thread(&project, &thread_id).await?;
        if !self.store.delete_message(&project, &thread_id, &message_id).await? {
            return Err(message_not_found(&message_id));
        }
        Ok(Response::new(pb::DeleteResponse { id: message_id, deleted: true }))
    }

    async fn create_run_message(
        &self,
        request: Request<pb::CreateRunMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        let project = Project::of(&request)?;
        let pb::CreateRunMessageRequest { thread_id, assistant_id, run_id, message_id, created_at } =
            request.into_inner();
        let id = match message_id {
            Some(id) => MessageId::parse(&id)
                .ok_or_else(|| ServiceError::invalid("message_id", format!("Invalid message id '{id}'.")))?
                .into_string(),
            None => MessageId::generate().into_string(),
        };
        self.existing_thread(&project, &thread_id).await?;
        let m = Message {
            id,
            created_at: created_at.unwrap_or_else(time::now_secs),
            thread_id,
            status: MessageStatus::InProgress,
            incomplete_reason: None,
            completed_at: None,
            incomplete_at: None,
            role: Role::Assistant,
            content: vec![],
            assistant_id: Some(assistant_id),
            run_id: Some(run_id),
            attachments: vec![],
            metadata: Metadata::new(),
        };
        self.store.insert_message(&project, &m).await?;
        Ok(Response::new(m.into()))
    }

    async fn update_run_message(
        &self,
        request: Request<pb::UpdateRunMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        let project = Project::of(&request)?;
        let pb::UpdateRunMessageRequest { thread_id, message_id, status, content, incomplete_reason } =
            request.into_inner();
        let mut m = self
            .store
            .get_message(&project, &thread_id, &message_id)
            .await?
            .ok_or_else(|| message_not_found(&message_id))?;
        if m.run_id.is_none() {
            return Err(ServiceError::precondition(format!("Message '{message_id}' was not written by a run.")).into());
        }
        m.status = convert::status_from_pb(status)?;
        m.content = content.into_iter().map(convert::run_content_from_pb).collect::<Result<_, _>>()?;
        let now = time::now_secs();
        match m.status {
            MessageStatus::Completed => m.completed_at = Some(now),
            MessageStatus::Incomplete => {
                m.incomplete_at = Some(now);
                m.incomplete_reason = incomplete_reason;
            }
            MessageStatus::InProgress => {}
        }
        self.store.update_run_message(&project, &m).await?;
        Ok(Response::new(m.into()))
    }
}

#[cfg(test)]
mod tests;
