//! The colour palettes of `style.css`, checked against WCAG AA in both themes: every colour
//! text is drawn in, on every surface it can sit on. (The window test measures the rendered
//! pages too; this covers the states it does not reach, such as the offline notice in dark.)

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    const CSS: &str = include_str!("../style.css");

    /// The custom properties declared in the first `:root { … }` block after `from`.
    fn palette(from: &str) -> HashMap<String, String> {
        let start = CSS.find(from).expect("the block exists");
        let block = &CSS[start..];
        let open = block.find(":root {").expect(":root") + ":root {".len();
        let close = open + block[open..].find('}').expect("closed");
        block[open..close]
            .split(';')
            .filter_map(|decl| {
                let (name, value) = decl.split_once(':')?;
                let name = name.trim().strip_prefix("--")?;
                let value = value.trim();
                value
                    .starts_with('#')
                    .then(|| (name.to_owned(), value.to_owned()))
            })
            .collect()
    }

    fn luminance(hex: &str) -> f64 {
        let channel = |i: usize| {
            let v = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")) / 255.0;
            if v <= 0.039_28 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
    }

    fn contrast(a: &str, b: &str) -> f64 {
        let (la, lb) = (luminance(a), luminance(b));
        (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
    }

    #[test]
    fn text_and_controls_pass_wcag_aa_in_both_themes() {
        let light = palette(":root {");
        let mut dark = light.clone();
        dark.extend(palette("@media (prefers-color-scheme: dark)"));
        let mut low = Vec::new();
        for (theme, colours) in [("light", &light), ("dark", &dark)] {
            let c = |name: &str| colours[name].as_str();
            let pairs = ["text", "muted", "danger", "ok", "warn", "accent"]
                .into_iter()
                .flat_map(|text| ["bg", "panel", "code"].map(|surface| (text, surface)))
                // The selected navigation item: its text on its own background.
                .chain([("text", "selected")]);
            for (text, surface) in pairs {
                let ratio = contrast(c(text), c(surface));
                if ratio < 4.5 {
                    low.push(format!("{theme}: {text} on {surface} is {ratio:.2}:1"));
                }
            }
            let button = contrast(c("accent-text"), c("accent"));
            if button < 4.5 {
                low.push(format!("{theme}: accent-text on accent is {button:.2}:1"));
            }
            // Non-text contrast (WCAG 1.4.11): control edges and the focus ring.
            for edge in ["control", "accent"] {
                for surface in ["bg", "panel"] {
                    let ratio = contrast(c(edge), c(surface));
                    if ratio < 3.0 {
                        low.push(format!("{theme}: {edge} on {surface} is {ratio:.2}:1"));
                    }
                }
            }
        }
        assert!(low.is_empty(), "{low:#?}");
    }
}
