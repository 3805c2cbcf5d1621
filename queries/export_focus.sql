-- `charges` as a FOCUS 1.2 cost-and-usage dataset: PascalCase FOCUS columns (alphabetical), then x_ columns.
-- params: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive), on ChargePeriodStart
-- grain: one row per `charges` row (the source's billed line); nothing is aggregated or dropped.
-- Typed output (DECIMAL(38,12), TIMESTAMPTZ, VARCHAR); costlab/export.py formats times and writes the file.
-- Columns costlab does not store are NULL where FOCUS allows it. Where FOCUS forbids NULL and the source
-- lacked the value, the spec's fallback is used and the column is named in x_CostlabDerived:
--   BilledCost <-> EffectiveCost (each other), ListCost / ContractedCost <- BilledCost (ListCost-C-008,
--   ContractedCost-C-008), BillingPeriodStart/End <- the calendar month of ChargePeriodStart,
--   ChargeFrequency <- Usage-Based for Usage rows, One-Time for Tax/Credit/Adjustment,
--   ServiceCategory / ServiceSubcategory <- the value other rows of the same ServiceName carry, else
--   Other / "Other (<category>)", PricingCurrency <- BillingCurrency, CommitmentDiscountCategory <-
--   CommitmentDiscountType (savings plan: Spend, reservation: Usage).
-- Cleared (also named in x_CostlabDerived), because FOCUS 1.2 says they MUST be NULL: unit prices, SkuId,
-- SkuMeter, SkuPriceId and PricingCategory on Tax rows; PricingQuantity/PricingUnit on Tax rows and on
-- Credit/Adjustment rows whose quantity has no unit; ConsumedQuantity/ConsumedUnit outside Usage rows;
-- SkuMeter without SkuId, SubAccountName without SubAccountId, ResourceType without ResourceId.
-- PricingCurrency* prices and costs equal their billing-currency twins when the two currencies are equal.
WITH base AS (
    SELECT
        c.*,
        c.charge_period_start AT TIME ZONE 'UTC' AS cps_utc,
        coalesce(
            c.service_category,
            min(c.service_category) OVER (PARTITION BY c.service_provider_name, c.service_name),
            'Other'
        ) AS out_category
    FROM charges AS c
    WHERE (CAST($since AS TIMESTAMPTZ) IS NULL OR c.charge_period_start >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR c.charge_period_start < CAST($until AS TIMESTAMPTZ))
),
filled AS (
    SELECT
        *,
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
        -- a quantity without a unit says nothing; FOCUS lets it be NULL outside Usage/Purchase rows
        charge_category = 'Tax'
            OR (pricing_unit IS NULL AND charge_category NOT IN ('Usage', 'Purchase')) AS drop_quantity,
        charge_category <> 'Usage' AS drop_consumed
    FROM base
)
SELECT
    CAST(NULL AS VARCHAR) AS AvailabilityZone,
    coalesce(billed_cost, effective_cost) AS BilledCost,
    billing_account_id AS BillingAccountId,
    billing_account_name AS BillingAccountName,
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
    coalesce(contracted_cost, billed_cost, effective_cost) AS ContractedCost,
    CASE WHEN NOT is_tax THEN contracted_unit_price END AS ContractedUnitPrice,
    coalesce(effective_cost, billed_cost) AS EffectiveCost,
    invoice_id AS InvoiceId,
    invoice_issuer_name AS InvoiceIssuerName,
    coalesce(list_cost, billed_cost, effective_cost) AS ListCost,
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
    CASE WHEN sub_account_id IS NOT NULL THEN sub_account_name END AS SubAccountName,
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
        CASE WHEN sub_account_id IS NULL AND sub_account_name IS NOT NULL THEN 'SubAccountName' END
    ), '') AS x_CostlabDerived,
    -- lineage
    source_format AS x_SourceFormat,
    source_file AS x_SourceFile,
    source_line AS x_SourceLine,
    run_id AS x_RunId,
    ingested_at AS x_IngestedAt,
    export_time AS x_ExportTime,
    row_key AS x_RowKey
FROM filled
ORDER BY charge_period_start, billing_currency, source_format, row_key, source_file, source_line;
