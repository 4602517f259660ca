//! The payment link as a QR code, rendered here so the UI only inserts trusted SVG.

use qrcode::QrCode;
use qrcode::render::svg;

/// An SVG QR code (with `viewBox`, no inline styles) for `link`.
pub fn svg_for(link: &str) -> Result<String, String> {
    let code = QrCode::new(link.as_bytes()).map_err(|e| e.to_string())?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_svg_scales_and_carries_no_inline_style() {
        let svg =
            svg_for("https://www.mercadopago.com.pe/checkout/v1/redirect?pref_id=1-abc").unwrap();
        assert!(svg.contains("viewBox"));
        assert!(svg.contains("<svg"));
        assert!(!svg.contains("style"));
    }
}
