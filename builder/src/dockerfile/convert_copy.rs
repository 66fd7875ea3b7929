//! Pass 2 for the file-list instructions: COPY, ADD and VOLUME.

use super::convert::Request;
use super::error::SyntaxError;
use super::heredoc::parse_marker;
use super::instruction::{AddInstr, CopyInstr, CopySource, Form, Instruction, VolumeInstr};
use super::words::{parse_json, split_ws, Json};

/// Reads a word list in JSON form or as whitespace-separated words.
fn word_list(rest: &str, instruction: &'static str) -> Result<(Form, Vec<String>), SyntaxError> {
    match parse_json(rest) {
        Json::Strings(words) => Ok((Form::Exec, words)),
        Json::NotStrings => Err(SyntaxError::NotStringArray { instruction }),
        Json::No => Ok((Form::Shell, split_ws(rest))),
    }
}

/// Sources and destination shared by COPY and ADD.
struct Files {
    form: Form,
    sources: Vec<CopySource>,
    dest: String,
}

/// Splits the arguments into sources (paths or heredocs) and the destination.
fn files(req: &Request<'_>, instruction: &'static str) -> Result<Files, SyntaxError> {
    let (form, mut words) = word_list(&req.node.rest, instruction)?;
    if words.len() < 2 {
        return Err(SyntaxError::NoDestination { instruction });
    }
    let dest = words.pop().unwrap_or_default();
    if form == Form::Shell && parse_marker(&dest).is_some() {
        return Err(SyntaxError::HeredocDestination { instruction });
    }
    let sources = words
        .into_iter()
        .map(|word| source(req, form, word))
        .collect();
    Ok(Files {
        form,
        sources,
        dest,
    })
}

/// One source word: a heredoc marker (shell form) becomes the heredoc read in pass 1.
fn source(req: &Request<'_>, form: Form, word: String) -> CopySource {
    let marker = (form == Form::Shell).then(|| parse_marker(&word)).flatten();
    match marker {
        Some(marker) => {
            let doc = req
                .node
                .heredocs
                .iter()
                .find(|d| d.name == marker.name)
                .cloned()
                .unwrap_or(marker);
            CopySource::Heredoc(doc)
        }
        None => CopySource::Path(word),
    }
}

/// `COPY`.
pub(crate) fn copy(req: Request<'_>) -> Result<Instruction, SyntaxError> {
    let files = files(&req, "COPY")?;
    let f = &req.flags;
    Ok(Instruction::Copy(CopyInstr {
        span: req.node.span,
        form: files.form,
        sources: files.sources,
        dest: files.dest,
        from: f.string("from"),
        chown: f.string("chown"),
        chmod: f.string("chmod"),
        link: f.boolean("link").unwrap_or(false),
        parents: f.boolean("parents").unwrap_or(false),
        excludes: f.list("exclude"),
    }))
}

/// `ADD`.
pub(crate) fn add(req: Request<'_>) -> Result<Instruction, SyntaxError> {
    let files = files(&req, "ADD")?;
    let f = &req.flags;
    Ok(Instruction::Add(AddInstr {
        span: req.node.span,
        form: files.form,
        sources: files.sources,
        dest: files.dest,
        chown: f.string("chown"),
        chmod: f.string("chmod"),
        link: f.boolean("link").unwrap_or(false),
        keep_git_dir: f.boolean("keep-git-dir"),
        checksum: f.string("checksum"),
        unpack: f.boolean("unpack"),
        excludes: f.list("exclude"),
    }))
}

/// `VOLUME`: at least one path, none empty.
pub(crate) fn volume(req: Request<'_>) -> Result<Instruction, SyntaxError> {
    let (form, words) = word_list(&req.node.rest, "VOLUME")?;
    if words.is_empty() {
        return Err(SyntaxError::AtLeastOneArgument {
            instruction: "VOLUME",
        });
    }
    let paths: Vec<String> = words.iter().map(|w| w.trim().to_string()).collect();
    if paths.iter().any(String::is_empty) {
        return Err(SyntaxError::EmptyVolume);
    }
    Ok(Instruction::Volume(VolumeInstr {
        span: req.node.span,
        form,
        paths,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::convert::convert_one as one;

    #[test]
    fn copy_with_heredocs_and_paths() {
        let Instruction::Copy(c) = one("COPY --chmod=755 <<A b <<B /d/\nx\nA\ny\nB\n").unwrap()
        else {
            panic!("not COPY")
        };
        assert_eq!(c.dest, "/d/");
        assert_eq!(c.chmod.as_deref(), Some("755"));
        assert!(matches!(&c.sources[0], CopySource::Heredoc(h) if h.body == "x\n"));
        assert_eq!(c.sources[1], CopySource::Path("b".into()));
        assert!(
            matches!(&c.sources[2], CopySource::Heredoc(h) if h.name == "B" && h.body == "y\n")
        );
    }

    #[test]
    fn copy_json_keeps_spaces() {
        let Instruction::Copy(c) = one(r#"COPY ["a b", "/c d/"]"#).unwrap() else {
            panic!()
        };
        assert_eq!(c.form, Form::Exec);
        assert_eq!(c.sources, vec![CopySource::Path("a b".into())]);
        assert_eq!(c.dest, "/c d/");
    }

    #[test]
    fn copy_errors() {
        let e = |t: &str| one(t).unwrap_err().to_string();
        assert!(e("COPY onlyone").contains("at least two arguments"));
        assert!(e("COPY a <<EOF\nEOF\n").contains("heredoc as a destination"));
        assert!(e("ADD --from=x a b").contains("ADD does not take the flag --from"));
    }

    #[test]
    fn add_flags_and_volume() {
        let Instruction::Add(a) = one("ADD --keep-git-dir --checksum=sha256:ab u /d").unwrap()
        else {
            panic!()
        };
        assert_eq!(a.keep_git_dir, Some(true));
        assert_eq!(a.checksum.as_deref(), Some("sha256:ab"));
        assert_eq!(a.unpack, None);
        assert!(one(r#"VOLUME [""]"#)
            .unwrap_err()
            .to_string()
            .contains("empty string"));
        let Instruction::Volume(v) = one("VOLUME /a /b").unwrap() else {
            panic!()
        };
        assert_eq!(v.paths, vec!["/a", "/b"]);
    }
}
