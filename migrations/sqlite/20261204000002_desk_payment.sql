-- Payment at the desk (cash, card on the POS, transfer): who took it, how and when. All
-- nullable, so charges stored by v1 read back unchanged (no desk payment).
ALTER TABLE charges ADD COLUMN desk_method TEXT;
ALTER TABLE charges ADD COLUMN desk_reference TEXT;
ALTER TABLE charges ADD COLUMN desk_by TEXT;
ALTER TABLE charges ADD COLUMN desk_at TEXT;
