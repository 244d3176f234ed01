//! A minimal one-page PDF (Helvetica, one text line per entry) so `invoice_pdf` links serve a
//! real PDF, as Stripe's do.

use std::fmt::Write as _;

pub(crate) fn document(lines: &[String]) -> Vec<u8> {
    let mut content = String::from("BT /F1 11 Tf 56 780 Td 15 TL\n");
    for line in lines {
        let _ = writeln!(content, "({}) '", pdf_text(line));
    }
    content.push_str("ET");

    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_string(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut pdf = String::from("%PDF-1.4\n");
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        let _ = write!(pdf, "{} 0 obj\n{object}\nendobj\n", i + 1);
    }
    let xref = pdf.len();
    let _ = write!(pdf, "xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        let _ = writeln!(pdf, "{offset:010} 00000 n ");
    }
    let _ = write!(pdf, "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1);
    pdf.into_bytes()
}

/// A PDF string literal body: the standard fonts only cover Latin-1 here, so other
/// characters become `?`; parentheses and backslashes are escaped.
fn pdf_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '(' | ')' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '€' => out.push_str("EUR "),
            '×' => out.push('x'),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_is_a_pdf_with_a_consistent_xref() {
        let pdf = String::from_utf8(document(&["Invoice (1)".into(), "1 × Pro  €9.50".into()])).unwrap();
        assert!(pdf.starts_with("%PDF-1.4\n") && pdf.ends_with("%%EOF\n"));
        assert!(pdf.contains("(Invoice \\(1\\)) '") && pdf.contains("(1 x Pro  EUR 9.50) '"));
        // Every xref entry points at the start of its object.
        let xref_at: usize = pdf.rsplit("startxref\n").next().unwrap().lines().next().unwrap().parse().unwrap();
        let entries: Vec<usize> = pdf[xref_at..].lines().skip(3).take(5).map(|l| l[..10].parse().unwrap()).collect();
        for (i, offset) in entries.iter().enumerate() {
            assert!(pdf[*offset..].starts_with(&format!("{} 0 obj", i + 1)));
        }
    }
}
