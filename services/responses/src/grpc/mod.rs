//! The tonic implementation of `ResponseService`: proto in, an operation of
//! [`Responses`], proto out; streamed responses as a server stream of events.

pub mod convert;

use assistd_common::Project;
use assistd_common::caller::Caller;
use assistd_common::page::PageRequest;
use assistd_proto::pb;
use tonic::{Request, Response, Status};

use crate::domain::NewResponse;
use crate::ops::Responses;

/// The responses service.
#[derive(Clone)]
pub struct ResponsesService {
    responses: Responses,
}

impl ResponsesService {
    /// The gRPC face of `responses`.
    pub fn new(responses: Responses) -> Self {
        Self { responses }
    }

    /// The operations behind it.
    pub fn ops(&self) -> &Responses {
        &self.responses
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> pb::response_service_server::ResponseServiceServer<Self> {
        pb::response_service_server::ResponseServiceServer::new(self)
    }
}

type EventStream = std::pin::Pin<Box<dyn futures::Stream<Item = Result<pb::ResponseEvent, Status>> + Send>>;

fn new_response(req: pb::CreateResponseRequest) -> Result<(NewResponse, Vec<String>), Status> {
    let include = req.include.clone();
    Ok((NewResponse::try_from(req)?, include))
}

#[tonic::async_trait]
impl pb::response_service_server::ResponseService for ResponsesService {
    async fn create_response(
        &self,
        request: Request<pb::CreateResponseRequest>,
    ) -> Result<Response<pb::ResponseObject>, Status> {
        let caller = Caller::of(Project::of(&request)?, request.metadata());
        let (new, include) = new_response(request.into_inner())?;
        let started = self.responses.start(&caller, new, false).await?;
        drop(started.events);
        let r = started.done.await.map_err(|e| Status::internal(format!("the response's task failed: {e}")))?;
        Ok(Response::new(r.shown(&include).into()))
    }

    async fn stream_response(
        &self,
        request: Request<pb::CreateResponseRequest>,
    ) -> Result<Response<EventStream>, Status> {
        use futures::StreamExt;
        let caller = Caller::of(Project::of(&request)?, request.metadata());
        let (new, include) = new_response(request.into_inner())?;
        let started = self.responses.start(&caller, new, true).await?;
        let events = tokio_stream::wrappers::ReceiverStream::new(started.events)
            .map(move |e| Ok(convert::event_to_pb(e, &include)));
        Ok(Response::new(events.boxed()))
    }

    async fn get_response(
        &self,
        request: Request<pb::GetResponseRequest>,
    ) -> Result<Response<pb::ResponseObject>, Status> {
        let project = Project::of(&request)?;
        let pb::GetResponseRequest { response_id, include, starting_after: _ } = request.into_inner();
        Ok(Response::new(self.responses.get(&project, &response_id, &include).await?.into()))
    }

    async fn follow_response(&self, request: Request<pb::GetResponseRequest>) -> Result<Response<EventStream>, Status> {
        use futures::StreamExt;
        let project = Project::of(&request)?;
        let pb::GetResponseRequest { response_id, include, starting_after } = request.into_inner();
        let rx = self.responses.follow(&project, &response_id, starting_after, include).await?;
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(rx).map(Ok).boxed()))
    }

    async fn delete_response(
        &self,
        request: Request<pb::DeleteResponseRequest>,
    ) -> Result<Response<pb::DeleteResponse>, Status> {
        let project = Project::of(&request)?;
        let id = request.into_inner().response_id;
        self.responses.delete(&project, &id).await?;
        Ok(Response::new(pb::DeleteResponse { id, deleted: true }))
    }

    async fn cancel_response(
        &self,
        request: Request<pb::CancelResponseRequest>,
    ) -> Result<Response<pb::ResponseObject>, Status> {
        let project = Project::of(&request)?;
        let id = request.into_inner().response_id;
        Ok(Response::new(self.responses.cancel(&project, &id).await?.into()))
    }

    async fn count_input_tokens(
        &self,
        request: Request<pb::CreateResponseRequest>,
    ) -> Result<Response<pb::InputTokens>, Status> {
        let caller = Caller::of(Project::of(&request)?, request.metadata());
        let (new, _) = new_response(request.into_inner())?;
        let input_tokens = self.responses.count_input_tokens(&caller, new).await?;
        Ok(Response::new(pb::InputTokens { input_tokens }))
    }

    async fn compact_response(&self, request: Request<pb::CompactRequest>) -> Result<Response<pb::Compaction>, Status> {
        let caller = Caller::of(Project::of(&request)?, request.metadata());
        let pb::CompactRequest { model, input, instructions, previous_response_id } = request.into_inner();
        let input = assistd_common::items::items_from_pb(input, "input")?;
        let (id, created_at, output, usage) =
            self.responses.compact(&caller, model, input, instructions, previous_response_id).await?;
        Ok(Response::new(pb::Compaction {
            id,
            created_at,
            output: output.into_iter().map(Into::into).collect(),
            usage: Some(pb::ResponseUsage { input_tokens: usage.input_tokens, output_tokens: usage.output_tokens }),
        }))
    }

    async fn list_input_items(
        &self,
        request: Request<pb::ListInputItemsRequest>,
    ) -> Result<Response<pb::ItemList>, Status> {
        let project = Project::of(&request)?;
        let pb::ListInputItemsRequest { response_id, page, include } = request.into_inner();
        let page = PageRequest::from_pb(page, 20, 100)?;
        let result = self.responses.input_items(&project, &response_id, &page, &include).await?;
        let data: Vec<pb::Item> = result.data.into_iter().map(Into::into).collect();
        Ok(Response::new(pb::ItemList {
            first_id: data.first().map(|i| i.id.clone()),
            last_id: data.last().map(|i| i.id.clone()),
            has_more: result.has_more,
            data,
        }))
    }
}

#[cfg(test)]
mod tests;
