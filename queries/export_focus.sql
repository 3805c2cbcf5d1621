-- `charges` as a FOCUS 1.2 cost-and-usage dataset: PascalCase FOCUS columns (alphabetical), then x_ columns.
-- purpose: `costlab export focus`: the lake's bill in the FOCUS 1.2 column set, for tools that
--   read FOCUS (https://focus.finops.org/focus-specification/v1-2/).
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive), on ChargePeriodStart;
--   $billing_accounts VARCHAR or NULL: JSON {"<source_format>" | "default": {"id": ..., "name": ...}}, the
--   [export.focus] settings (costlab/money/focus_export.py builds it).
-- grain: one row per `charges` row (the source's billed line); nothing is aggregated or dropped.
-- notes:
--   Typed output (DECIMAL(38,12), TIMESTAMPTZ, VARCHAR); costlab/money/focus_export.py formats times and writes the file.
--   Columns costlab does not store are NULL where FOCUS allows it. Where FOCUS forbids NULL and the source
--   lacked the value, the value below is written and the column is named in x_CostlabDerived.
--   Costs (FOCUS 1.2 normative text; none may be NULL):
--     BilledCost     <- EffectiveCost (the only other amount the row has).
--     EffectiveCost  <- BilledCost: EffectiveCost-C-010 "a charge unrelated to other charges MUST match the
--                       BilledCost"; for Tax (C-009: computed from the taxed charges, which no source links)
--                       the billed tax is the closest value.
--     ListCost       <- ListUnitPrice x PricingQuantity when both are written (ListCost-C-009), else
--                       BilledCost (ListCost-C-008, "when ListUnitPrice is null ... MUST match the BilledCost";
--                       Tax rows: as EffectiveCost).
--     ContractedCost <- ContractedUnitPrice x PricingQuantity when both are written (ContractedCost-C-009;
--                       OCI gives a unit price but no cost, and its billed cost is rounded), else BilledCost
--                       (ContractedCost-C-008; Tax rows: as EffectiveCost).
--   Billing account (BillingAccountId MUST NOT be NULL), first that exists, computed over the whole lake so
--   --since/--until do not change a row's id:
--     1 the row's own billing_account_id (what the file carries: AWS payer account, Azure billing account,
--       GCP billing account, OCI subscription, OpenAI CSV organization_id, FOCUS BillingAccountId);
--     2 the one billing account other rows of the same provider give its SubAccountId (a sub account
--       belongs to one billing account: an OpenAI project to its organisation, an AWS linked account to its
--       payer), e.g. a second OpenAI CSV download, which lacks organization_id, gets it from the first;
--     3 the one billing account the other rows of the same source file resolve to (an export is one
--       account's: the OpenAI Default Project rows of that download);
--     4 [export.focus.<source_format>] billing_account_id, else [export.focus] billing_account_id;
--     5 'costlab:<source_format>:<first 12 hex of sha256(folder of the source file)>': the OpenAI Costs API
--       and Anthropic cost report name no organisation; one folder of downloads is taken as one account.
--     BillingAccountName: the row's own, else the latest name the lake gives that id, else the settings name
--     of that id, else the id (FOCUS: MUST NOT be NULL where the provider supports account names).
--     SubAccountName: the row's own, else the latest the lake gives that SubAccountId, else the id.
--     The lake keeps NULL (unknown): charges_llm matches a NULL account with any when it finds the same bill
--     in two sources, so a guessed id stored at ingest would double count it.
--   Other fills: BillingPeriodStart/End <- the calendar month of ChargePeriodStart,
--     ChargeFrequency <- Usage-Based for Usage rows, One-Time for Tax/Credit/Adjustment,
--     ServiceCategory / ServiceSubcategory <- the value other rows of the same ServiceName carry, else
--     Other / "Other (<category>)", PricingCurrency <- BillingCurrency, CommitmentDiscountCategory <-
--     CommitmentDiscountType (savings plan: Spend, reservation: Usage).
--   Cleared (also named in x_CostlabDerived), because FOCUS 1.2 says they MUST be NULL: unit prices, SkuId,
--   SkuMeter, SkuPriceId and PricingCategory on Tax rows; PricingQuantity/PricingUnit on Tax rows and
--   whenever one of the pair is missing (PricingUnit-C-005/C-006: a quantity without a unit says nothing);
--   ConsumedQuantity/ConsumedUnit outside Usage rows and whenever one of the pair is missing; SkuMeter without
--   SkuId, SubAccountName without SubAccountId, ResourceType without ResourceId.
--   PricingCurrency* prices and costs equal their billing-currency twins when the two currencies are equal.
WITH by_sub AS (
    SELECT service_provider_name, sub_account_id, min(billing_account_id) AS account
    FROM charges
    WHERE billing_account_id IS NOT NULL AND sub_account_id IS NOT NULL
    GROUP BY service_provider_name, sub_account_id
    HAVING count(DISTINCT billing_account_id) = 1
),
known AS (
    SELECT c.source_file, coalesce(c.billing_account_id, s.account) AS account
    FROM charges AS c
    LEFT JOIN by_sub AS s
      ON s.service_provider_name IS NOT DISTINCT FROM c.service_provider_name
     AND s.sub_account_id = c.sub_account_id
),
by_file AS (
    SELECT source_file, min(account) AS account
    FROM known
    WHERE account IS NOT NULL
    GROUP BY source_file
    HAVING count(DISTINCT account) = 1
),
account_names AS (  -- the name of the latest charge (the smallest of several at that time)
    SELECT billing_account_id, min(billing_account_name) AS name
    FROM (
        SELECT billing_account_id, billing_account_name,
               charge_period_start = max(charge_period_start) OVER (PARTITION BY billing_account_id) AS latest
        FROM charges
        WHERE billing_account_id IS NOT NULL AND billing_account_name IS NOT NULL
    ) AS named
    WHERE latest
    GROUP BY billing_account_id
),
sub_names AS (
    SELECT service_provider_name, sub_account_id, min(sub_account_name) AS name
    FROM (
        SELECT service_provider_name, sub_account_id, sub_account_name,
               charge_period_start = max(charge_period_start)
                   OVER (PARTITION BY service_provider_name, sub_account_id) AS latest
        FROM charges
        WHERE sub_account_id IS NOT NULL AND sub_account_name IS NOT NULL
    ) AS named
    WHERE latest
    GROUP BY service_provider_name, sub_account_id
),
base AS (
    SELECT
        c.*,
        c.charge_period_start AT TIME ZONE 'UTC' AS cps_utc,
        coalesce(
            c.service_category,
            min(c.service_category) OVER (PARTITION BY c.service_provider_name, c.service_name),
            'Other'
        ) AS out_category,
        coalesce(s.account, f.account) AS lake_account,
        CASE WHEN c.sub_account_id IS NOT NULL THEN coalesce(c.sub_account_name, n.name, c.sub_account_id) END
            AS out_sub_account_name,
        coalesce(
            json_extract_string($billing_accounts, '$.' || c.source_format || '.id'),
            json_extract_string($billing_accounts, '$.default.id')
        ) AS set_account,
        CASE WHEN json_extract_string($billing_accounts, '$.' || c.source_format || '.id') IS NOT NULL
            THEN json_extract_string($billing_accounts, '$.' || c.source_format || '.name')
            ELSE json_extract_string($billing_accounts, '$.default.name')
        END AS set_account_name
    FROM charges AS c
    LEFT JOIN by_sub AS s
      ON c.billing_account_id IS NULL
     AND s.service_provider_name IS NOT DISTINCT FROM c.service_provider_name
     AND s.sub_account_id = c.sub_account_id
    LEFT JOIN by_file AS f ON c.billing_account_id IS NULL AND f.source_file = c.source_file
    LEFT JOIN sub_names AS n
      ON c.sub_account_name IS NULL
     AND n.service_provider_name IS NOT DISTINCT FROM c.service_provider_name
     AND n.sub_account_id = c.sub_account_id
    WHERE
    -- include: fragments/in_period | at = c.charge_period_start
),
accounts AS (
    SELECT
        *,
        coalesce(
            billing_account_id,
            lake_account,
            set_account,
            'costlab:' || source_format || ':'
                || left(sha256(regexp_replace(coalesce(source_file, ''), '[/\\][^/\\]*$', '')), 12)
        ) AS out_account
    FROM base
),
filled AS (
    SELECT
        a.*,
        coalesce(a.billing_account_name, an.name, CASE WHEN a.set_account = a.out_account THEN a.set_account_name END,
                 a.out_account) AS out_account_name,
        coalesce(
            service_subcategory,
            min(service_subcategory) OVER (PARTITION BY service_provider_name, service_name, out_category),
            'Other (' || out_category || ')'
        ) AS out_subcategory,
        coalesce(pricing_currency, billing_currency) AS out_pricing_currency,
        -- FOCUS 1.2 allowed values: Spend (savings plans, spend-based commitments), Usage (reservations)
        CASE
            WHEN commitment_discount_id IS NULL THEN NULL
            WHEN commitment_discount_type ILIKE '%savings%' OR commitment_discount_type ILIKE '%spend%' THEN 'Spend'
            WHEN commitment_discount_type ILIKE '%reserv%' THEN 'Usage'
        END AS out_cd_category,
        charge_category = 'Tax' AS is_tax,
        -- FOCUS: each quantity and its unit are both NULL or both set
        charge_category = 'Tax' OR pricing_quantity IS NULL OR pricing_unit IS NULL AS drop_quantity,
        charge_category <> 'Usage' OR consumed_quantity IS NULL OR consumed_unit IS NULL AS drop_consumed
    FROM accounts AS a
    LEFT JOIN account_names AS an
      ON a.billing_account_name IS NULL AND an.billing_account_id = a.out_account
),
priced AS (
    SELECT
        *,
        -- the products by fragments/money_product: a plain DECIMAL(38,12) x DECIMAL(38,12) failed at $1e14
        CASE WHEN NOT drop_quantity THEN
-- include: fragments/money_product | a = list_unit_price | b = pricing_quantity
        END AS quantity_list_cost,
        CASE WHEN NOT drop_quantity THEN
-- include: fragments/money_product | a = contracted_unit_price | b = pricing_quantity
        END AS quantity_contracted_cost
    FROM filled
)
SELECT
    CAST(NULL AS VARCHAR) AS AvailabilityZone,
    coalesce(billed_cost, effective_cost) AS BilledCost,
    out_account AS BillingAccountId,
    out_account_name AS BillingAccountName,
    CAST(NULL AS VARCHAR) AS BillingAccountType,
    billing_currency AS BillingCurrency,
    coalesce(
        billing_period_end,
        timezone('UTC', date_trunc('month', cps_utc) + INTERVAL 1 MONTH)
    ) AS BillingPeriodEnd,
    coalesce(billing_period_start, timezone('UTC', date_trunc('month', cps_utc))) AS BillingPeriodStart,
    CAST(NULL AS VARCHAR) AS CapacityReservationId,
    CAST(NULL AS VARCHAR) AS CapacityReservationStatus,
    charge_category AS ChargeCategory,
    charge_class AS ChargeClass,
    charge_description AS ChargeDescription,
    coalesce(
        charge_frequency,
        CASE
            WHEN charge_category = 'Usage' THEN 'Usage-Based'
            WHEN charge_category IN ('Tax', 'Credit', 'Adjustment') THEN 'One-Time'
        END
    ) AS ChargeFrequency,
    charge_period_end AS ChargePeriodEnd,
    charge_period_start AS ChargePeriodStart,
    out_cd_category AS CommitmentDiscountCategory,
    commitment_discount_id AS CommitmentDiscountId,
    CAST(NULL AS VARCHAR) AS CommitmentDiscountName,
    CAST(NULL AS DECIMAL(38, 12)) AS CommitmentDiscountQuantity,
    CAST(NULL AS VARCHAR) AS CommitmentDiscountStatus,
    commitment_discount_type AS CommitmentDiscountType,
    CAST(NULL AS VARCHAR) AS CommitmentDiscountUnit,
    CASE WHEN NOT drop_consumed THEN consumed_quantity END AS ConsumedQuantity,
    CASE WHEN NOT drop_consumed THEN consumed_unit END AS ConsumedUnit,
    coalesce(contracted_cost, quantity_contracted_cost, billed_cost, effective_cost) AS ContractedCost,
    CASE WHEN NOT is_tax THEN contracted_unit_price END AS ContractedUnitPrice,
    coalesce(effective_cost, billed_cost) AS EffectiveCost,
    invoice_id AS InvoiceId,
    invoice_issuer_name AS InvoiceIssuerName,
    coalesce(list_cost, quantity_list_cost, billed_cost, effective_cost) AS ListCost,
    CASE WHEN NOT is_tax THEN list_unit_price END AS ListUnitPrice,
    CASE WHEN NOT is_tax THEN pricing_category END AS PricingCategory,
    out_pricing_currency AS PricingCurrency,
    CASE WHEN out_pricing_currency = billing_currency AND NOT is_tax THEN contracted_unit_price END
        AS PricingCurrencyContractedUnitPrice,
    CASE WHEN out_pricing_currency = billing_currency THEN coalesce(effective_cost, billed_cost) END
        AS PricingCurrencyEffectiveCost,
    CASE WHEN out_pricing_currency = billing_currency AND NOT is_tax THEN list_unit_price END
        AS PricingCurrencyListUnitPrice,
    CASE WHEN NOT drop_quantity THEN pricing_quantity END AS PricingQuantity,
    CASE WHEN NOT drop_quantity THEN pricing_unit END AS PricingUnit,
    service_provider_name AS ProviderName,
    host_provider_name AS PublisherName,
    region_id AS RegionId,
    CAST(NULL AS VARCHAR) AS RegionName,
    resource_id AS ResourceId,
    resource_name AS ResourceName,
    CASE WHEN resource_id IS NOT NULL THEN resource_type END AS ResourceType,
    out_category AS ServiceCategory,
    service_name AS ServiceName,
    out_subcategory AS ServiceSubcategory,
    CASE WHEN NOT is_tax THEN sku_id END AS SkuId,
    CASE WHEN NOT is_tax AND sku_id IS NOT NULL THEN sku_meter END AS SkuMeter,
    CAST(NULL AS VARCHAR) AS SkuPriceDetails,
    CASE WHEN NOT is_tax THEN sku_price_id END AS SkuPriceId,
    sub_account_id AS SubAccountId,
    out_sub_account_name AS SubAccountName,
    CAST(NULL AS VARCHAR) AS SubAccountType,
    CASE WHEN tags IS NOT NULL AND cardinality(tags) > 0 THEN CAST(to_json(tags) AS VARCHAR) END AS Tags,
    -- costlab LLM extensions
    model AS x_Model,
    model_raw AS x_ModelRaw,
    token_type AS x_TokenType,
    tokens AS x_Tokens,
    service_tier AS x_ServiceTier,
    project_id AS x_ProjectId,
    api_key_id AS x_ApiKeyId,
    principal AS x_Principal,
    compute_kind AS x_ComputeKind,
    workflow AS x_Workflow,
    cost_dataset AS x_CostDataset,
    -- FOCUS columns costlab filled or cleared instead of copying the source (space-separated; NULL: none)
    nullif(concat_ws(' ',
        CASE WHEN billed_cost IS NULL THEN 'BilledCost' END,
        CASE WHEN billing_account_id IS NULL THEN 'BillingAccountId' END,
        CASE WHEN billing_account_name IS NULL THEN 'BillingAccountName' END,
        CASE WHEN billing_period_end IS NULL THEN 'BillingPeriodEnd' END,
        CASE WHEN billing_period_start IS NULL THEN 'BillingPeriodStart' END,
        CASE WHEN charge_frequency IS NULL AND charge_category IN ('Usage', 'Tax', 'Credit', 'Adjustment')
            THEN 'ChargeFrequency' END,
        CASE WHEN out_cd_category IS NOT NULL THEN 'CommitmentDiscountCategory' END,
        CASE WHEN drop_consumed AND consumed_quantity IS NOT NULL THEN 'ConsumedQuantity' END,
        CASE WHEN drop_consumed AND consumed_unit IS NOT NULL THEN 'ConsumedUnit' END,
        CASE WHEN contracted_cost IS NULL THEN 'ContractedCost' END,
        CASE WHEN is_tax AND contracted_unit_price IS NOT NULL THEN 'ContractedUnitPrice' END,
        CASE WHEN effective_cost IS NULL THEN 'EffectiveCost' END,
        CASE WHEN list_cost IS NULL THEN 'ListCost' END,
        CASE WHEN is_tax AND list_unit_price IS NOT NULL THEN 'ListUnitPrice' END,
        CASE WHEN is_tax AND pricing_category IS NOT NULL THEN 'PricingCategory' END,
        CASE WHEN pricing_currency IS NULL THEN 'PricingCurrency' END,
        CASE WHEN drop_quantity AND pricing_quantity IS NOT NULL THEN 'PricingQuantity' END,
        CASE WHEN drop_quantity AND pricing_unit IS NOT NULL THEN 'PricingUnit' END,
        CASE WHEN resource_id IS NULL AND resource_type IS NOT NULL THEN 'ResourceType' END,
        CASE WHEN service_category IS NULL THEN 'ServiceCategory' END,
        CASE WHEN service_subcategory IS NULL THEN 'ServiceSubcategory' END,
        CASE WHEN is_tax AND sku_id IS NOT NULL THEN 'SkuId' END,
        CASE WHEN (is_tax OR sku_id IS NULL) AND sku_meter IS NOT NULL THEN 'SkuMeter' END,
        CASE WHEN is_tax AND sku_price_id IS NOT NULL THEN 'SkuPriceId' END,
        CASE WHEN (sub_account_id IS NULL) <> (sub_account_name IS NULL) THEN 'SubAccountName' END
    ), '') AS x_CostlabDerived,
    -- lineage
    source_format AS x_SourceFormat,
    source_file AS x_SourceFile,
    source_line AS x_SourceLine,
    run_id AS x_RunId,
    ingested_at AS x_IngestedAt,
    export_time AS x_ExportTime,
    row_key AS x_RowKey
FROM priced
ORDER BY charge_period_start, billing_currency, source_format, row_key, source_file, source_line;
