//! The operations of the threads API on domain values: what the gRPC adapter calls.
//! Each checks the request's rules and its references to files and vector stores
//! (through those services), makes the vector stores asked for (the
//! `tool_resources.file_search.vector_stores` helper, and the thread's own store for
//! attachments meant for file_search), and writes the store.

use assistd_common::caller::Caller;
use assistd_common::files_ref::FileRefs;
use assistd_common::ids::{MessageId, ThreadId};
use assistd_common::metadata::{self, Metadata};
use assistd_common::page::{Page, PageRequest};
use assistd_common::tools::{FileSearchResources, NewVectorStore, ToolResources};
use assistd_common::vector_stores_ref::VectorStoreRefs;
use assistd_common::{Project, ServiceError, ServiceResult, time};

use crate::domain::{Attachment, Content, MAX_INITIAL_MESSAGES, Message, MessageStatus, NewMessage, Role, Thread};
use crate::store::Store;

/// What a create-thread request gives.
#[derive(Debug, Default)]
pub struct NewThread {
    /// Checked by [`Threads::create_thread`] (each on its own rules).
    pub messages: Vec<NewMessage>,
    pub tool_resources: Option<ToolResources>,
    pub metadata: Metadata,
}

/// The fields a modify-thread request gives (`None`: not given).
#[derive(Debug, Default)]
pub struct ThreadPatch {
    pub tool_resources: Option<Option<ToolResources>>,
    pub metadata: Option<Metadata>,
}

/// The empty message a run writes its answer into.
#[derive(Debug)]
pub struct NewRunMessage {
    pub assistant_id: String,
    pub run_id: String,
    /// A `msg_…` id chosen by the run (so a retried call writes the same message).
    pub id: Option<String>,
    pub created_at: Option<i64>,
}

/// What a run writes into its message.
#[derive(Debug)]
pub struct RunMessageUpdate {
    pub status: MessageStatus,
    pub content: Vec<Content>,
    pub incomplete_reason: Option<String>,
}

/// The threads and messages of every project, and the peers their references are
/// checked with.
#[derive(Clone)]
pub struct Threads {
    store: Store,
    files: FileRefs,
    vector_stores: VectorStoreRefs,
}

impl Threads {
    /// Threads in `store`; references go unchecked until the peers are given.
    pub fn new(store: Store) -> Self {
        Self { store, files: FileRefs::unchecked(), vector_stores: VectorStoreRefs::unavailable() }
    }

    /// Makes vector stores (the `tool_resources` helper, and the thread's store for
    /// message attachments meant for file_search) through the vector stores service.
    pub fn with_vector_stores(mut self, vector_stores: VectorStoreRefs) -> Self {
        self.vector_stores = vector_stores;
        self
    }

    /// Checks that files referenced by messages and tool resources exist, through
    /// the files service.
    pub fn with_file_refs(mut self, files: FileRefs) -> Self {
        self.files = files;
        self
    }

    /// Creates a thread with its first messages.
    pub async fn create_thread(&self, caller: &Caller, new: NewThread) -> ServiceResult<Thread> {
        let NewThread { messages, mut tool_resources, metadata } = new;
        let helpers = VectorStoreRefs::take_helpers(&mut tool_resources, "tool_resources")?;
        if messages.len() > MAX_INITIAL_MESSAGES {
            return Err(ServiceError::invalid(
                "messages",
                format!(
                    "Invalid 'messages': array too long. Expected an array with maximum length {MAX_INITIAL_MESSAGES}."
                ),
            ));
        }
        metadata::validate("metadata", &metadata)?;
        let mut thread =
            Thread { id: ThreadId::generate().into_string(), created_at: time::now_secs(), tool_resources, metadata };
        for (i, m) in messages.iter().enumerate() {
            m.validate(&format!("messages[{i}]."))?;
        }
        let mut refs: Vec<(String, String)> =
            thread.tool_resources.as_ref().map(|r| r.file_refs("tool_resources")).unwrap_or_default();
        let mut images = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            refs.extend(m.file_refs(&format!("messages[{i}].")));
            images.extend(m.image_refs(&format!("messages[{i}].")));
        }
        self.files.check(caller, &refs).await?;
        self.files.check_images(caller, &images).await?;
        let stores = thread.tool_resources.as_ref().map(|r| r.vector_store_refs("tool_resources")).unwrap_or_default();
        self.vector_stores.check(caller, &stores).await?;
        // Everything is checked: make the vector stores asked for.
        self.make_helpers(caller, &mut thread, helpers).await?;
        let for_search = search_attachments(messages.iter().flat_map(|m| m.attachments.iter()));
        self.attach_for_search(caller, &mut thread, for_search).await?;
        attach_for_code(&mut thread, messages.iter().flat_map(|m| m.attachments.iter()));
        let messages: Vec<_> = messages
            .into_iter()
            .map(|m| m.into_message(MessageId::generate().into_string(), thread.id.clone(), thread.created_at))
            .collect();
        self.store.insert_thread(&caller.project, &thread, &messages).await?;
        Ok(thread)
    }

    /// The thread `id`.
    pub async fn get_thread(&self, project: &Project, id: &str) -> ServiceResult<Thread> {
        self.store.get_thread(project, id).await?.ok_or_else(|| thread_not_found(id))
    }

    /// Writes the fields `patch` gives into thread `id`.
    pub async fn modify_thread(&self, caller: &Caller, id: &str, patch: ThreadPatch) -> ServiceResult<Thread> {
        let mut t = self.get_thread(&caller.project, id).await?;
        if let Some(m) = patch.metadata {
            metadata::validate("metadata", &m)?;
            t.metadata = m;
        }
        if let Some(mut tool_resources) = patch.tool_resources {
            let helpers = VectorStoreRefs::take_helpers(&mut tool_resources, "tool_resources")?;
            t.tool_resources = tool_resources;
            if let Some(r) = &t.tool_resources {
                self.files.check(caller, &r.file_refs("tool_resources")).await?;
                self.vector_stores.check(caller, &r.vector_store_refs("tool_resources")).await?;
            }
            self.make_helpers(caller, &mut t, helpers).await?;
        }
        self.store.update_thread(&caller.project, &t).await?;
        Ok(t)
    }

    /// Deletes thread `id` and its messages.
    pub async fn delete_thread(&self, project: &Project, id: &str) -> ServiceResult<()> {
        if self.store.delete_thread(project, id).await? { Ok(()) } else { Err(thread_not_found(id)) }
    }

    /// Adds a message to thread `thread_id`.
    pub async fn create_message(&self, caller: &Caller, thread_id: &str, new: NewMessage) -> ServiceResult<Message> {
        new.validate("")?;
        let mut thread = self.get_thread(&caller.project, thread_id).await?;
        self.files.check(caller, &new.file_refs("")).await?;
        self.files.check_images(caller, &new.image_refs("")).await?;
        let for_search = search_attachments(new.attachments.iter());
        let searched = self.attach_for_search(caller, &mut thread, for_search).await?;
        let coded = attach_for_code(&mut thread, new.attachments.iter());
        if searched || coded {
            self.store.update_thread(&caller.project, &thread).await?;
        }
        let m = new.into_message(MessageId::generate().into_string(), thread.id, time::now_secs());
        self.store.insert_message(&caller.project, &m).await?;
        Ok(m)
    }

    /// A page of thread `thread_id`'s messages (those of run `run_id` only, if given).
    pub async fn list_messages(
        &self,
        project: &Project,
        thread_id: &str,
        run_id: Option<&str>,
        page: &PageRequest,
    ) -> ServiceResult<Page<Message>> {
        let result = self.store.list_messages(project, thread_id, run_id, page).await?;
        // Messages only exist in existing threads (deleting a thread deletes them in
        // the same transaction), so only an empty page needs the thread checked.
        if result.data.is_empty() {
            self.existing_thread(project, thread_id).await?;
        }
        Ok(result)
    }

    /// Message `id` of thread `thread_id`.
    pub async fn get_message(&self, project: &Project, thread_id: &str, id: &str) -> ServiceResult<Message> {
        self.existing_thread(project, thread_id).await?;
        self.store.get_message(project, thread_id, id).await?.ok_or_else(|| message_not_found(id))
    }

    /// Sets a message's metadata (`None`: not given, the message is returned as is).
    pub async fn modify_message(
        &self,
        project: &Project,
        thread_id: &str,
        id: &str,
        metadata: Option<Metadata>,
    ) -> ServiceResult<Message> {
        let mut m = self.get_message(project, thread_id, id).await?;
        if let Some(md) = metadata {
            metadata::validate("metadata", &md)?;
            m.metadata = md;
            self.store.update_message_metadata(project, &m).await?;
        }
        Ok(m)
    }

    /// Deletes message `id` of thread `thread_id`.
    pub async fn delete_message(&self, project: &Project, thread_id: &str, id: &str) -> ServiceResult<()> {
        self.existing_thread(project, thread_id).await?;
        if self.store.delete_message(project, thread_id, id).await? { Ok(()) } else { Err(message_not_found(id)) }
    }

    /// Starts the (empty, in progress) message a run answers in.
    pub async fn create_run_message(
        &self,
        project: &Project,
        thread_id: &str,
        new: NewRunMessage,
    ) -> ServiceResult<Message> {
        let NewRunMessage { assistant_id, run_id, id, created_at } = new;
        let id = match id {
            Some(id) => MessageId::parse(&id)
                .ok_or_else(|| ServiceError::invalid("message_id", format!("Invalid message id '{id}'.")))?
                .into_string(),
            None => MessageId::generate().into_string(),
        };
        self.existing_thread(project, thread_id).await?;
        let m = Message {
            id,
            created_at: created_at.unwrap_or_else(time::now_secs),
            thread_id: thread_id.to_owned(),
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
        self.store.insert_message(project, &m).await?;
        Ok(m)
    }

    /// Writes a run's answer into its message.
    pub async fn update_run_message(
        &self,
        project: &Project,
        thread_id: &str,
        id: &str,
        update: RunMessageUpdate,
    ) -> ServiceResult<Message> {
        let mut m = self.store.get_message(project, thread_id, id).await?.ok_or_else(|| message_not_found(id))?;
        if m.run_id.is_none() {
            return Err(ServiceError::precondition(format!("Message '{id}' was not written by a run.")));
        }
        let RunMessageUpdate { status, content, incomplete_reason } = update;
        m.status = status;
        m.content = content;
        let now = time::now_secs();
        match m.status {
            MessageStatus::Completed => m.completed_at = Some(now),
            MessageStatus::Incomplete => {
                m.incomplete_at = Some(now);
                m.incomplete_reason = incomplete_reason;
            }
            MessageStatus::InProgress => {}
        }
        self.store.update_run_message(project, &m).await?;
        Ok(m)
    }

    async fn existing_thread(&self, project: &Project, id: &str) -> ServiceResult<()> {
        if self.store.thread_exists(project, id).await? { Ok(()) } else { Err(thread_not_found(id)) }
    }

    /// Makes the helper's vector stores and records them in the thread.
    async fn make_helpers(&self, caller: &Caller, t: &mut Thread, helpers: Vec<NewVectorStore>) -> ServiceResult<()> {
        let made = self.vector_stores.make(caller, helpers).await?;
        if !made.is_empty() {
            let res = t.tool_resources.get_or_insert_with(ToolResources::default);
            res.file_search.get_or_insert_with(Default::default).vector_store_ids.extend(made);
        }
        Ok(())
    }

    /// Puts files attached for file_search into the thread's vector store, creating
    /// it (and recording it in the thread's tool resources) when it has none. True
    /// when the thread's tool resources changed.
    async fn attach_for_search(
        &self,
        caller: &Caller,
        thread: &mut Thread,
        file_ids: Vec<String>,
    ) -> ServiceResult<bool> {
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
}

/// Adds the files attached for code_interpreter to the thread's
/// `tool_resources.code_interpreter.file_ids`, as OpenAI does; whether it added any.
fn attach_for_code<'a>(thread: &mut Thread, attachments: impl Iterator<Item = &'a Attachment>) -> bool {
    let mut added = false;
    for a in attachments.filter(|a| a.tools.iter().any(|t| t == "code_interpreter")) {
        let res = thread.tool_resources.get_or_insert_with(ToolResources::default);
        let code = res.code_interpreter.get_or_insert_with(Default::default);
        if !code.file_ids.contains(&a.file_id) {
            code.file_ids.push(a.file_id.clone());
            added = true;
        }
    }
    added
}

/// The distinct files attached for file_search.
fn search_attachments<'a>(attachments: impl Iterator<Item = &'a Attachment>) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for a in attachments {
        if a.tools.iter().any(|t| t == "file_search") && !ids.contains(&a.file_id) {
            ids.push(a.file_id.clone());
        }
    }
    ids
}

fn thread_not_found(id: &str) -> ServiceError {
    ServiceError::not_found("thread", id)
}

fn message_not_found(id: &str) -> ServiceError {
    ServiceError::not_found("message", id)
}
