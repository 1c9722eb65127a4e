//! Images in user messages, as the model receives them: an `image_url` part goes as it
//! is; an `image_file` part (an uploaded file) is read from the files service and sent
//! as a `data:` URL, so a backend that cannot reach this server still sees it.

use std::collections::HashMap;

use assistd_common::files_client::Files;
use assistd_common::{ServiceError, error::ErrorKind};
use assistd_proto::pb;
use base64::Engine as _;

use crate::peers::Caller;

pub use assistd_common::images::{MAX_IMAGE_BYTES, mime};

/// An uploaded image as the prompt gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageInput {
    /// A `data:` URL of the image.
    Data(String),
    /// It could not be sent; the model reads why instead.
    Unreadable(String),
}

/// The images uploaded files stand for, by file id.
pub type ImageInputs = HashMap<String, ImageInput>;

/// The ids of the uploaded images in the thread's user messages, once each.
pub fn file_ids(messages: &[pb::Message]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in messages.iter().filter(|m| m.role == pb::MessageRole::User as i32) {
        for c in &m.content {
            if let Some(pb::message_content::Part::ImageFile(f)) = &c.part
                && !out.contains(&f.file_id)
            {
                out.push(f.file_id.clone());
            }
        }
    }
    out
}

/// Reads file `id` as an image for the model. The outer error is the service's (the
/// files service is down); a file that is gone, too large or not an image is
/// [`ImageInput::Unreadable`].
pub async fn read(files: &Files, caller: &Caller, id: &str) -> Result<ImageInput, ServiceError> {
    let info = match files.get(caller, id).await {
        Ok(f) => f,
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(ImageInput::Unreadable("the file was deleted".into())),
        Err(e) => return Err(e),
    };
    let Some(mime) = mime(&info.filename, &info.content_type) else {
        return Ok(ImageInput::Unreadable(format!("{} is not a png, jpeg, gif or webp image", info.filename)));
    };
    match files.download(caller, id, MAX_IMAGE_BYTES).await {
        Ok((_, bytes)) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
            Ok(ImageInput::Data(format!("data:{mime};base64,{encoded}")))
        }
        Err(e) if e.kind == ErrorKind::NotFound => Ok(ImageInput::Unreadable("the file was deleted".into())),
        Err(e) if e.kind == ErrorKind::TooLarge => {
            Ok(ImageInput::Unreadable(format!("it is over {} MiB", MAX_IMAGE_BYTES >> 20)))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_user_images_once() {
        let image = |id: &str| pb::MessageContent {
            part: Some(pb::message_content::Part::ImageFile(pb::ImageFileContent { file_id: id.into(), detail: None })),
        };
        let m = |role: pb::MessageRole, ids: &[&str]| pb::Message {
            role: role as i32,
            content: ids.iter().map(|i| image(i)).collect(),
            ..Default::default()
        };
        let ms = [
            m(pb::MessageRole::User, &["f1", "f2"]),
            m(pb::MessageRole::Assistant, &["f3"]),
            m(pb::MessageRole::User, &["f1"]),
        ];
        assert_eq!(file_ids(&ms), ["f1", "f2"]);
    }
}
