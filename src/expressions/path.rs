//! `basename` and `dirname` (`st2common/expressions/functions/path.py`): Python's
//! `os.path.basename` / `os.path.dirname` on POSIX.

use minijinja::value::Value;
use minijinja::{Error, ErrorKind};

fn text(value: &Value) -> Result<String, Error> {
    super::defined(value)?;
    value.as_str().map(str::to_string).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "expected str, bytes or os.PathLike object, not {}",
                super::type_name(value)
            ),
        )
    })
}

/// `os.path.basename`: what follows the last `/`.
pub fn basename(path: Value) -> Result<String, Error> {
    let path = text(&path)?;
    Ok(path.rsplit('/').next().unwrap_or_default().to_string())
}

/// `os.path.dirname`: what precedes the last `/`, trailing slashes removed unless it is all
/// slashes.
pub fn dirname(path: Value) -> Result<String, Error> {
    let path = text(&path)?;
    let head = match path.rfind('/') {
        Some(at) => &path[..=at],
        None => "",
    };
    if !head.is_empty() && head.chars().any(|c| c != '/') {
        Ok(head.trim_end_matches('/').to_string())
    } else {
        Ok(head.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::render;
    use serde_json::json;

    /// StackStorm's `test_jinja_render_path_filters.py`.
    #[test]
    fn test_basename() {
        let template = "{{k1 | basename}}";
        assert_eq!(
            render(template, json!({"k1": "/some/path/to/file.txt"})).unwrap(),
            "file.txt"
        );
        assert_eq!(
            render(template, json!({"k1": "/some/path/to/dir"})).unwrap(),
            "dir"
        );
        assert_eq!(
            render(template, json!({"k1": "/some/path/to/dir/"})).unwrap(),
            ""
        );
    }

    #[test]
    fn test_dirname() {
        let template = "{{k1 | dirname}}";
        assert_eq!(
            render(template, json!({"k1": "/some/path/to/file.txt"})).unwrap(),
            "/some/path/to"
        );
        assert_eq!(
            render(template, json!({"k1": "/some/path/to/dir"})).unwrap(),
            "/some/path/to"
        );
        assert_eq!(
            render(template, json!({"k1": "/some/path/to/dir/"})).unwrap(),
            "/some/path/to/dir"
        );
        assert_eq!(render(template, json!({"k1": "//x"})).unwrap(), "//");
        assert_eq!(render(template, json!({"k1": "x"})).unwrap(), "");
    }
}
