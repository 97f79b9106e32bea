//! The one table writer of the reports: a header and rows of text, rendered for the
//! terminal (comfy-table, wrapped to the terminal's width) or as a Markdown table.

use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement};
use std::fmt;

/// A table of text cells: a header and rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names and no rows.
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Table {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// The same table with these rows added.
    pub fn rows<R, S>(mut self, rows: impl IntoIterator<Item = R>) -> Table
    where
        R: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.extend(
            rows.into_iter()
                .map(|r| r.into_iter().map(Into::into).collect()),
        );
        self
    }

    /// The Markdown table, one line per row and a trailing newline.
    pub fn markdown(&self) -> String {
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        let mut s = line(&self.header);
        s.push_str(&line(&vec!["---".to_string(); self.header.len()]));
        for r in &self.rows {
            s.push_str(&line(r));
        }
        s
    }

    /// The boxed terminal table.
    pub fn terminal(&self) -> comfy_table::Table {
        let mut t = comfy_table::Table::new();
        t.load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(&self.header);
        for r in &self.rows {
            t.add_row(r);
        }
        t
    }
}

/// Displays as the terminal table.
impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.terminal())
    }
}

/// A Markdown table from a header and rows.
pub fn md_table<R: IntoIterator<Item = String>>(
    header: &[&str],
    rows: impl IntoIterator<Item = R>,
) -> String {
    Table::new(header.iter().copied()).rows(rows).markdown()
}

/// A heading line and its lines, indented: a terminal section.
pub fn terminal_block(heading: &str, lines: impl IntoIterator<Item = String>) -> String {
    let mut s = format!("{heading}\n");
    for line in lines {
        s.push_str("  ");
        s.push_str(&line);
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_has_a_rule_under_the_header_and_a_line_per_row() {
        let t = Table::new(["a", "b"]).rows([["1", "2"], ["3", "4"]]);
        assert_eq!(
            t.markdown(),
            "| a | b |\n| --- | --- |\n| 1 | 2 |\n| 3 | 4 |\n"
        );
    }

    #[test]
    fn the_terminal_table_holds_every_cell() {
        let t = Table::new(["level", "latency"]).rows([["L1d", "1.2 ns"]]);
        let text = t.to_string();
        for cell in ["level", "latency", "L1d", "1.2 ns"] {
            assert!(text.contains(cell), "{cell} missing from\n{text}");
        }
    }
}
