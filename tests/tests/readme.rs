//! The README's route table and template.yaml list the same routes, as the OpenAPI test holds
//! the committed document to them: a route added to the template needs its row (method, path,
//! what it does, who may call it), and a row needs its route. And every relative link of the
//! README and docs/ leads to a file, and to a heading of it when it names one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use billing_functions::{DEFAULT_ROUTE, ROUTES};

/// The cells of a Markdown table row, split at the pipes that are not escaped (`month\|year`).
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = vec![String::new()];
    let mut escaped = false;
    for c in inner.chars() {
        match c {
            '|' if !escaped => cells.push(String::new()),
            _ => cells.last_mut().unwrap().push(c),
        }
        escaped = c == '\\';
    }
    cells.iter().map(|cell| cell.trim().to_string()).collect()
}

/// The `(method, path)` of every row of the table under the README's `## Routes` heading.
fn readme_routes(readme: &str) -> Vec<(String, String)> {
    let section = readme.split("\n## Routes\n").nth(1).expect("README.md has a `## Routes` section");
    let section = section.split("\n## ").next().unwrap();
    let mut rows = section.lines().filter(|line| line.starts_with('|'));
    let header = cells(rows.next().expect("the Routes section has a table"));
    assert_eq!(header, ["method", "path", "what it does", "who may call it"], "the route table's columns");
    rows.skip(1) // the |---| line
        .map(|row| {
            let cells = cells(row);
            assert_eq!(cells.len(), 4, "a route row has four cells: {row}");
            assert!(cells.iter().all(|cell| !cell.is_empty()), "a route row leaves no cell empty: {row}");
            (cells[0].trim_matches('`').to_string(), cells[1].trim_matches('`').to_string())
        })
        .collect()
}

#[test]
fn the_readme_route_table_lists_exactly_the_template_routes() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("read README.md");
    let rows = readme_routes(&readme);
    let listed: BTreeSet<_> = rows.iter().cloned().collect();
    assert_eq!(listed.len(), rows.len(), "a route is listed twice in the README's route table");
    let template: BTreeSet<_> =
        ROUTES.iter().filter(|r| r.path != DEFAULT_ROUTE).map(|r| (r.method.to_string(), r.path.to_string())).collect();
    let missing: Vec<_> = template.difference(&listed).collect();
    let unknown: Vec<_> = listed.difference(&template).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "template.yaml routes missing from the README's route table: {missing:?}; rows template.yaml has no route for: {unknown:?}"
    );
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The targets of the Markdown links and images `[text](target)` of a document, outside code.
fn link_targets(markdown: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_code_block = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code_block = !in_code_block;
        }
        if in_code_block {
            continue;
        }
        // Inline code spans hold no links (`{url}`, `[...](...)` shown as text).
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        for (start, _) in prose.match_indices("](") {
            let rest = &prose[start + 2..];
            if let Some(end) = rest.find(')') {
                targets.push(rest[..end].to_string());
            }
        }
    }
    targets
}

/// A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces as hyphens.
fn anchor(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut in_code_block = false;
    let mut anchors = BTreeSet::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code_block = !in_code_block;
        } else if !in_code_block && line.starts_with('#') {
            anchors.insert(anchor(line.trim_start_matches('#').trim()));
        }
    }
    anchors
}

#[test]
fn every_relative_link_of_the_readme_and_docs_resolves() {
    let root = root();
    let mut documents = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            documents.push(path);
        }
    }
    let mut broken = Vec::new();
    for document in &documents {
        let text = std::fs::read_to_string(document).unwrap();
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, heading) = target.split_once('#').unwrap_or((&target, ""));
            let linked = if file.is_empty() { document.clone() } else { document.parent().unwrap().join(file) };
            let name = document.strip_prefix(&root).unwrap().display().to_string();
            if !linked.exists() {
                broken.push(format!("{name}: {target} (no such file)"));
            } else if !heading.is_empty() {
                let linked_text = std::fs::read_to_string(&linked).unwrap_or_default();
                if !anchors(&linked_text).contains(heading) {
                    broken.push(format!("{name}: {target} (no such heading)"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn anchors_and_links_are_read_as_github_does() {
    assert_eq!(anchor("The publisher's dead-letter queue"), "the-publishers-dead-letter-queue");
    assert_eq!(anchor("What an upgrade or a downgrade answers"), "what-an-upgrade-or-a-downgrade-answers");
    assert_eq!(anchor("What `scripts/test` runs"), "what-scriptstest-runs");
    assert_eq!(link_targets("see [a](docs/a.md#b) and `[c](d)` and ![e](f.png)"), ["docs/a.md#b", "f.png"]);
}

#[test]
fn a_table_row_splits_at_unescaped_pipes_only() {
    let row = "| `POST` | `/billing/checkout` | `{interval: month\\|year}` | any key |";
    assert_eq!(cells(row), ["`POST`", "`/billing/checkout`", "`{interval: month\\|year}`", "any key"]);
}
