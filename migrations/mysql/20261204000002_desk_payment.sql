-- Payment at the desk (cash, card on the POS, transfer): who took it, how and when. All
-- nullable, so charges stored by v1 read back unchanged (no desk payment).
ALTER TABLE charges
    ADD COLUMN desk_method    VARCHAR(16) NULL,
    ADD COLUMN desk_reference VARCHAR(400) NULL,
    ADD COLUMN desk_by        VARCHAR(128) NULL,
    ADD COLUMN desk_at        CHAR(24) NULL;
