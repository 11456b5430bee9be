CREATE TABLE "rollup_watermarks" (
	"job" text PRIMARY KEY NOT NULL,
	"ingested_through" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "telemetry_rollup_hour" (
	"bucket" timestamp with time zone NOT NULL,
	"device_id" text NOT NULL,
	"group_name" text NOT NULL,
	"device_class" text NOT NULL,
	"model_name" text NOT NULL,
	"model_version" integer NOT NULL,
	"model_variant" text NOT NULL,
	"windows" bigint NOT NULL,
	"inferences" bigint NOT NULL,
	"errors" bigint NOT NULL,
	"dropped_windows" bigint NOT NULL,
	"latency_count" bigint NOT NULL,
	"latency_sum_ms" double precision NOT NULL,
	"latency_max_ms" double precision,
	"latency_p95_weighted_ms" double precision NOT NULL,
	"latency_hist" bigint[] NOT NULL,
	"confidence_sum" double precision NOT NULL,
	"confidence_count" bigint NOT NULL,
	"class_counts" bigint[] NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "telemetry_rollup_hour_pk" PRIMARY KEY("bucket","device_id","group_name","device_class","model_name","model_version","model_variant")
);
--> statement-breakpoint
CREATE TABLE "telemetry_rollup_minute" (
	"bucket" timestamp with time zone NOT NULL,
	"device_id" text NOT NULL,
	"group_name" text NOT NULL,
	"device_class" text NOT NULL,
	"model_name" text NOT NULL,
	"model_version" integer NOT NULL,
	"model_variant" text NOT NULL,
	"windows" bigint NOT NULL,
	"inferences" bigint NOT NULL,
	"errors" bigint NOT NULL,
	"dropped_windows" bigint NOT NULL,
	"latency_count" bigint NOT NULL,
	"latency_sum_ms" double precision NOT NULL,
	"latency_max_ms" double precision,
	"latency_p95_weighted_ms" double precision NOT NULL,
	"latency_hist" bigint[] NOT NULL,
	"confidence_sum" double precision NOT NULL,
	"confidence_count" bigint NOT NULL,
	"class_counts" bigint[] NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "telemetry_rollup_minute_pk" PRIMARY KEY("bucket","device_id","group_name","device_class","model_name","model_version","model_variant")
);
--> statement-breakpoint
CREATE TABLE "telemetry_windows" (
	"device_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"window_start" timestamp with time zone NOT NULL,
	"window_end" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"ingested_at" timestamp with time zone DEFAULT now() NOT NULL,
	"model_name" text,
	"model_version" integer,
	"model_variant" text,
	"inferences" bigint NOT NULL,
	"errors" bigint NOT NULL,
	"latency_count" bigint DEFAULT 0 NOT NULL,
	"latency_min_ms" double precision,
	"latency_p50_ms" double precision,
	"latency_p95_ms" double precision,
	"latency_p99_ms" double precision,
	"latency_max_ms" double precision,
	"latency_mean_ms" double precision,
	"latency_hist" bigint[] NOT NULL,
	"class_counts" bigint[] NOT NULL,
	"mean_confidence" double precision,
	"dropped_windows" bigint DEFAULT 0 NOT NULL,
	"sketches" jsonb,
	CONSTRAINT "telemetry_windows_pk" PRIMARY KEY("device_id","seq")
);
--> statement-breakpoint
CREATE INDEX "telemetry_windows_ingested_idx" ON "telemetry_windows" USING btree ("ingested_at");--> statement-breakpoint
CREATE INDEX "telemetry_windows_end_idx" ON "telemetry_windows" USING btree ("window_end");
--> statement-breakpoint
-- Element-wise sum of two count arrays of any lengths (missing elements count as 0): how latency
-- histograms and class counts merge, in a rollup's GROUP BY (the aggregate) and in its upsert (the
-- function). Plain SQL, so it runs on PGlite as on PostgreSQL.
CREATE FUNCTION "edgeloop_array_add"(a bigint[], b bigint[]) RETURNS bigint[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(coalesce(x, 0) + coalesce(y, 0) ORDER BY i), '{}')
  FROM unnest(a, b) WITH ORDINALITY AS u(x, y, i)
$$;
--> statement-breakpoint
CREATE AGGREGATE "edgeloop_array_sum"(bigint[]) (
  SFUNC = "edgeloop_array_add",
  STYPE = bigint[],
  INITCOND = '{}'
);
