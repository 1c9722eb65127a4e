//! The operations of the Responses API: what the gRPC adapter calls. A create checks
//! the request, gathers the context (the chain of previous responses, or the
//! conversation's items), keeps the response (unless `store: false`), then runs the
//! model turn in a task of its own, so that a client that goes away does not stop it;
//! the caller gets the turn's events and, at the end, the response.

use assistd_common::caller::Caller;
use assistd_common::error::ErrorKind;
use assistd_common::ids::ResponseId;
use assistd_common::items::{Item, validate_include};
use assistd_common::page::{Order, Page, PageRequest};
use assistd_common::{Project, ServiceError, ServiceResult, time};
use assistd_runs::Models;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::domain::{MAX_CHAIN, NewResponse, Response, ResponseError, ResponseTool, status};
use crate::engine::{self, BuiltIns, Emitter, Event, Sequenced};
use crate::peers::{ConversationPeer, VectorStorePeer};
use crate::prompt;
use crate::store::Store;
use crate::tools::FileSearch;

/// Events a stream may hold before the turn waits for its reader.
const EVENT_BUFFER: usize = 256;

/// The responses of every project, the model backends, and the conversations peer.
#[derive(Clone)]
pub struct Responses {
    store: Store,
    models: Models,
    conversations: Option<ConversationPeer>,
    vector_stores: Option<VectorStorePeer>,
}

/// A response that has started: its events as they come, and the task that ends it.
pub struct Started {
    pub events: mpsc::Receiver<Sequenced>,
    pub done: JoinHandle<Response>,
}

impl Responses {
    /// Responses in `store`, answered by `models`; without a conversations peer a
    /// request naming a conversation is refused.
    pub fn new(store: Store, models: Models, conversations: Option<ConversationPeer>) -> Self {
        Self { store, models, conversations, vector_stores: None }
    }

    /// Searches for the file_search tool through the vector stores service.
    pub fn with_vector_stores(mut self, peer: VectorStorePeer) -> Self {
        self.vector_stores = Some(peer);
        self
    }

    /// The built-in tools of `r` for `caller`, their references checked.
    async fn builtins(&self, caller: &Caller, r: &Response) -> ServiceResult<BuiltIns> {
        let mut builtins = BuiltIns { file_search: None, max_calls: r.max_tool_calls };
        for (i, t) in r.tools.iter().enumerate() {
            match t {
                ResponseTool::Function(_) => {}
                ResponseTool::FileSearch { vector_store_ids, filters, .. } => {
                    let Some(peer) = &self.vector_stores else {
                        return Err(ServiceError::unimplemented(
                            "The file_search tool (no vector stores service is reachable from this process)",
                        )
                        .with_param(format!("tools[{i}]")));
                    };
                    if builtins.file_search.is_some() {
                        return Err(ServiceError::invalid(
                            format!("tools[{i}]"),
                            "Only one file_search tool may be given.",
                        ));
                    }
                    for (j, vs) in vector_store_ids.iter().enumerate() {
                        if let Err(e) = peer.store(caller, vs).await {
                            return Err(match e.kind {
                                ErrorKind::NotFound => ServiceError::invalid(
                                    format!("tools[{i}].vector_store_ids[{j}]"),
                                    format!("Vector store with id '{vs}' not found."),
                                ),
                                _ => e,
                            });
                        }
                    }
                    let filters = filters
                        .clone()
                        .map(|f| {
                            assistd_common::filters::from_json(
                                &format!("tools[{i}].filters"),
                                serde_json::Value::Object(f),
                            )
                        })
                        .transpose()
                        .map_err(ServiceError::from)?;
                    builtins.file_search = FileSearch::of(t, peer.clone(), caller.clone(), filters);
                }
                ResponseTool::CodeInterpreter { .. } => {
                    return Err(ServiceError::unimplemented("The code_interpreter tool in the Responses API")
                        .with_param(format!("tools[{i}]")));
                }
            }
        }
        Ok(builtins)
    }

    /// Starts response `new` for `caller`.
    pub async fn start(&self, caller: &Caller, new: NewResponse) -> ServiceResult<Started> {
        new.validate()?;
        validate_include(&new.include)?;
        let NewResponse { response: mut r, mut input, include: _ } = new;
        if r.background {
            return Err(
                ServiceError::unimplemented("Background responses (`background: true`)").with_param("background")
            );
        }
        let builtins = self.builtins(caller, &r).await?;
        let context = self.context(caller, &r).await?;
        for item in &mut input {
            item.assign_id();
        }
        let mut items = context;
        items.extend(input.iter().cloned());
        r.id = ResponseId::generate().into_string();
        r.created_at = time::now_secs();
        r.status = status::IN_PROGRESS.into();
        r.output.clear();
        // a model no backend serves fails the response, as it fails a run
        let backend = self.models.resolve(&r.model);
        let request = match &backend {
            Ok((_, model)) => Some(prompt::chat_request(&r, model.clone(), &items)?),
            Err(_) => None,
        };
        if r.store {
            self.store.insert(&caller.project, &r, &input).await?;
        }

        let (tx, events) = mpsc::channel(EVENT_BUFFER);
        let this = self.clone();
        let caller = caller.clone();
        let done = tokio::spawn(async move {
            let mut emit = Emitter::new(Some(tx));
            emit.emit(Event::Response("response.created", Box::new(r.clone()))).await;
            emit.emit(Event::Response("response.in_progress", Box::new(r.clone()))).await;
            match (backend, request) {
                (Ok((backend, _)), Some(request)) => {
                    engine::execute(&mut r, backend, request, &builtins, &mut emit).await
                }
                (Err(e), _) => {
                    r.status = status::FAILED.into();
                    r.error = Some(ResponseError { code: e.run_error_code().into(), message: e.to_string() });
                }
                (Ok(_), None) => {}
            }
            this.finish(&caller, &mut r, input).await;
            let name = match r.status.as_str() {
                status::COMPLETED => "response.completed",
                status::INCOMPLETE => "response.incomplete",
                _ => "response.failed",
            };
            emit.emit(Event::Response(name, Box::new(r.clone()))).await;
            r
        });
        Ok(Started { events, done })
    }

    /// Keeps the ended response and adds its input and output to its conversation.
    async fn finish(&self, caller: &Caller, r: &mut Response, input: Vec<Item>) {
        if let (Some(conv), Some(peer)) = (r.conversation_id.clone(), &self.conversations)
            && r.status != status::FAILED
        {
            let mut items = input;
            items.extend(r.output.iter().cloned());
            if let Err(e) = peer.append(caller, &conv, items).await {
                tracing::warn!(response_id = %r.id, conversation_id = %conv, error = %e.message, "the response's items were not added to its conversation");
            }
        }
        if r.store
            && let Err(e) = self.store.update(&caller.project, r).await
        {
            tracing::error!(response_id = %r.id, error = %e.message, "the ended response was not written");
        }
    }

    /// The items before this response's input: the chain of previous responses (each
    /// one's input and output, oldest first), or the conversation's items.
    async fn context(&self, caller: &Caller, r: &Response) -> ServiceResult<Vec<Item>> {
        if let Some(conv) = &r.conversation_id {
            let Some(peer) = &self.conversations else {
                return Err(ServiceError::unimplemented("Conversations (no conversations service is reachable)")
                    .with_param("conversation"));
            };
            return peer.items(caller, conv).await;
        }
        let mut chain = Vec::new();
        let mut next = r.previous_response_id.clone();
        while let Some(id) = next {
            if chain.len() >= MAX_CHAIN {
                return Err(ServiceError::invalid(
                    "previous_response_id",
                    format!("The chain of previous responses is longer than {MAX_CHAIN}."),
                ));
            }
            let Some(kept) = self.store.get(&caller.project, &id).await? else {
                return Err(ServiceError::new(
                    ErrorKind::NotFound,
                    format!("Previous response with id '{id}' not found."),
                )
                .with_param("previous_response_id")
                .with_code("previous_response_not_found"));
            };
            next = kept.response.previous_response_id.clone();
            chain.push(kept);
        }
        Ok(chain.into_iter().rev().flat_map(|k| k.input.into_iter().chain(k.response.output)).collect())
    }

    /// The response `id`, shown with `include`.
    pub async fn get(&self, project: &Project, id: &str, include: &[String]) -> ServiceResult<Response> {
        validate_include(include)?;
        Ok(self.kept(project, id).await?.response.shown(include))
    }

    async fn kept(&self, project: &Project, id: &str) -> ServiceResult<crate::store::Kept> {
        self.store.get(project, id).await?.ok_or_else(|| not_found(id))
    }

    /// Deletes response `id`.
    pub async fn delete(&self, project: &Project, id: &str) -> ServiceResult<()> {
        if self.store.delete(project, id).await? { Ok(()) } else { Err(not_found(id)) }
    }

    /// Cancels response `id` (background responses only).
    pub async fn cancel(&self, project: &Project, id: &str) -> ServiceResult<Response> {
        let kept = self.kept(project, id).await?;
        if !kept.response.background {
            return Err(ServiceError::invalid("response_id", "Cannot cancel a synchronous response."));
        }
        Err(ServiceError::unimplemented("Background responses"))
    }

    /// A page of response `id`'s input items, shown with `include`.
    pub async fn input_items(
        &self,
        project: &Project,
        id: &str,
        page: &PageRequest,
        include: &[String],
    ) -> ServiceResult<Page<Item>> {
        validate_include(include)?;
        let mut items = self.kept(project, id).await?.input;
        if page.order == Order::Desc {
            items.reverse();
        }
        let position = |cursor: &Option<String>, param: &str| -> ServiceResult<Option<usize>> {
            match cursor {
                None => Ok(None),
                Some(c) => items.iter().position(|it| it.id() == c).map(Some).ok_or_else(|| {
                    ServiceError::invalid(
                        param,
                        format!("Invalid '{param}': no input item with id '{c}' in response '{id}'."),
                    )
                }),
            }
        };
        let start = position(&page.after, "after")?.map_or(0, |p| p + 1);
        let end = position(&page.before, "before")?.unwrap_or(items.len()).max(start);
        let window = &items[start..end];
        let (data, has_more) = if page.before.is_some() && page.after.is_none() {
            let from = window.len().saturating_sub(page.limit as usize);
            (window[from..].to_vec(), from > 0)
        } else {
            let n = window.len().min(page.limit as usize);
            (window[..n].to_vec(), window.len() > n)
        };
        Ok(Page { data: data.into_iter().map(|it| it.shown(include)).collect(), has_more })
    }
}

fn not_found(id: &str) -> ServiceError {
    ServiceError::not_found("response", id)
}
