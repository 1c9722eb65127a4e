//! Images a message may show the model: which files count as images, and how large.

/// The largest image a message may carry (OpenAI's limit per image).
pub const MAX_IMAGE_BYTES: u64 = 20 << 20;

/// The image MIME type of a file, from what its upload said or its name; `None` when it
/// is not an image a model reads (PNG, JPEG, GIF, WEBP).
pub fn mime(filename: &str, content_type: &str) -> Option<&'static str> {
    const KNOWN: [(&str, &str); 5] = [
        ("png", "image/png"),
        ("jpg", "image/jpeg"),
        ("jpeg", "image/jpeg"),
        ("gif", "image/gif"),
        ("webp", "image/webp"),
    ];
    if let Some((_, m)) = KNOWN.iter().find(|(_, m)| *m == content_type) {
        return Some(m);
    }
    let ext = filename.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
    KNOWN.iter().find(|(e, _)| *e == ext).map(|(_, m)| *m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_by_type_or_name() {
        assert_eq!(mime("a.PNG", ""), Some("image/png"));
        assert_eq!(mime("photo", "image/jpeg"), Some("image/jpeg"));
        assert_eq!(mime("a.webp", "application/octet-stream"), Some("image/webp"));
        assert_eq!(mime("notes.txt", "text/plain"), None);
        assert_eq!(mime("noext", ""), None);
    }
}
