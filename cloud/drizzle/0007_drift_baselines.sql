CREATE TABLE "drift_baselines" (
	"model_name" text NOT NULL,
	"model_version" integer NOT NULL,
	"scope_kind" text NOT NULL,
	"scope" text NOT NULL,
	"status" text NOT NULL,
	"request_id" text NOT NULL,
	"target_samples" integer NOT NULL,
	"collected_samples" integer DEFAULT 0 NOT NULL,
	"profile" jsonb,
	"reason" text NOT NULL,
	"requested_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"activated_at" timestamp with time zone,
	CONSTRAINT "drift_baselines_model_name_model_version_scope_kind_scope_pk" PRIMARY KEY("model_name","model_version","scope_kind","scope")
);
